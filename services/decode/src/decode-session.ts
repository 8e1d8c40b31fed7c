// One admitted request on this decode worker: waits for its KV, then produces a token per batch
// step until it finishes. Speaks to its caller only through a DecodeSink (the gRPC adapter).
import type { DecodeResponse, PositionLogprobs } from "@kvtier/proto";
import { KvtierError, type PlannedRequest } from "@kvtier/platform";
import { BlockChain, TextStream, emptyTally, type TierTally } from "@kvtier/serving";
import { Sampler, type SampledToken, type SelectionSummary, type Tokenizer } from "@kvtier/tensor";

/** Where a session's events go. */
export interface DecodeSink {
  write(ev: DecodeResponse): void;
  fail(err: KvtierError): void;
}

/** How the session's prompt KV got here. */
export interface SessionStart {
  first: SampledToken;
  samplerState: Uint32Array;
  cachedTokens: number;
  cachedByTier: TierTally;
  loadedBytesByTier: TierTally;
  transferredBytes: number;
  disaggregated: boolean;
  /** What the request's selection policy kept (null or absent: no policy). */
  selection?: SelectionSummary | null;
  /** KV bytes transferred after the start (Quest pages fetched while decoding), read at the finish. */
  laterTransferredBytes?: () => number;
}

export type SessionState = "awaiting-kv" | "loading" | "running" | "ended";

const toWireLogprobs = (t: SampledToken): PositionLogprobs => ({
  chosen: { tokenId: t.token, logprob: t.logprob },
  top: t.top.map((x) => ({ tokenId: x.token, logprob: x.logprob })),
});

export class DecodeSession {
  state: SessionState = "awaiting-kv";
  /** The token fed to the next decode step (its KV is not in the pool yet). */
  nextToken = -1;
  generated = 0;
  readonly chain: BlockChain;
  private sampler: Sampler | undefined;
  private readonly text: TextStream;
  private start: SessionStart | undefined;
  private readonly onEnd: Array<() => void> = [];

  constructor(
    readonly plan: PlannedRequest,
    readonly seqId: string,
    private readonly sink: DecodeSink,
    tokenizer: Tokenizer,
    blockSize: number,
  ) {
    this.chain = new BlockChain(plan.namespaceHash, plan.tokens, plan.blockHashes, blockSize);
    this.text = new TextStream(tokenizer, plan.tokens[plan.tokens.length - 1], plan.stop);
  }

  /** Run `fn` once when the session ends, however it ends. */
  whenEnded(fn: () => void): void {
    if (this.state === "ended") fn();
    else this.onEnd.push(fn);
  }

  /** The prompt KV is in the pool: emit the first token; true if the session goes on decoding. */
  begin(start: SessionStart): boolean {
    if (this.state === "ended") return false;
    this.start = start;
    this.sampler = new Sampler(this.plan.sampling, start.samplerState);
    this.state = "running";
    return this.accept(start.first);
  }

  /** A batch step consumed `nextToken`; `logits` are its row. True if the session goes on. */
  step(logits: Float32Array): boolean {
    if (this.state !== "running" || !this.sampler) return false;
    return this.accept(this.sampler.sample(logits, this.plan.logprobs));
  }

  /** The error the session ended with, if it did not complete. */
  failure: KvtierError | undefined;

  /** End with an error status (cancel, failure); idempotent. */
  abort(err: KvtierError): void {
    if (this.state === "ended") return;
    this.failure = err;
    this.sink.fail(err);
    this.end();
  }

  private accept(t: SampledToken): boolean {
    this.generated += 1;
    const step = this.text.push(t.token);
    if (step.finishReason !== "eos") {
      this.sink.write({
        event: { $case: "token", value: { tokenId: t.token, logprobs: this.plan.logprobs > 0 ? toWireLogprobs(t) : undefined } },
      });
    }
    const reason = step.finishReason ?? (this.generated >= this.plan.maxTokens ? "length" : undefined);
    if (reason) {
      this.finish(reason);
      return false;
    }
    this.nextToken = t.token;
    return true;
  }

  /** How the session completed ("eos", "length", …); undefined while running or after an abort. */
  finishReason: string | undefined;

  private finish(reason: string): void {
    this.finishReason = reason;
    const s = this.start;
    this.sink.write({
      event: {
        $case: "finished",
        value: {
          finishReason: reason,
          completionTokens: this.generated,
          cachedTokens: s?.cachedTokens ?? 0,
          cachedByTier: s?.cachedByTier ?? emptyTally(),
          loadedBytesByTier: s?.loadedBytesByTier ?? emptyTally(),
          transferredBytes: (s?.transferredBytes ?? 0) + (s?.laterTransferredBytes?.() ?? 0),
          disaggregated: s?.disaggregated ?? false,
          keptKvEntries: s?.selection?.keptEntries ?? 0,
          promptKvEntries: s?.selection?.totalEntries ?? 0,
        },
      },
    });
    this.end();
  }

  private end(): void {
    this.state = "ended";
    for (const fn of this.onEnd.splice(0)) fn();
  }
}
