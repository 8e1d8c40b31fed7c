// A DecodeSink that records what a session sends its caller (what the gRPC adapter would stream),
// with promises for the first token and the end.
import type { KvtierError } from "@kvtier/platform";
import type { DecodeFinished, DecodeResponse } from "@kvtier/proto";
import type { DecodeSink } from "../../src/decode-session.js";

/** The caller's side of a session (what the gRPC adapter would stream), recorded. */
export class RecordingSink implements DecodeSink {
  readonly events: DecodeResponse[] = [];
  failure: KvtierError | undefined;
  /** Resolves when the session ends, finished or failed. */
  readonly ended: Promise<void>;
  /** Resolves at the first token (or the end, if none comes). */
  readonly firstToken: Promise<void>;
  private endNow!: () => void;
  private tokenNow!: () => void;

  constructor() {
    this.ended = new Promise((r) => (this.endNow = r));
    this.firstToken = new Promise((r) => (this.tokenNow = r));
  }

  write(ev: DecodeResponse): void {
    this.events.push(ev);
    if (ev.event?.$case === "token") this.tokenNow();
    if (ev.event?.$case === "finished") this.done();
  }

  fail(err: KvtierError): void {
    this.failure = err;
    this.done();
  }

  /** Event kinds in order ("admitted", "token", "finished"). */
  get kinds(): string[] {
    return this.events.map((e) => e.event?.$case ?? "none");
  }

  get tokens(): number[] {
    return this.events.flatMap((e) => (e.event?.$case === "token" ? [e.event.value.tokenId] : []));
  }

  get finished(): DecodeFinished | undefined {
    const last = this.events.find((e) => e.event?.$case === "finished");
    return last?.event?.$case === "finished" ? last.event.value : undefined;
  }

  private done(): void {
    this.endNow();
    this.tokenNow();
  }
}
