// What one placed request adds to this replica's load ledger, and when it is released: its
// prefill tokens on the prefill worker until the first token, its decode blocks on the decode
// worker until it ends, and the work it brings to the decode worker as recent work. One copy of
// the rule: the router service charges each request it places with it, and the replay each
// simulated one.
import type { LoadLedger } from "./load-ledger.js";
import type { Placement } from "./placer.js";
import type { RosterWorker } from "./roster.js";

/** The work a request puts on its workers. */
export interface RequestWork {
  decodeWorker: string;
  prefillWorker: string;
  /** Prompt tokens the prefill worker computes (the prompt minus what it has cached). */
  prefillTokens: number;
  /** KV blocks the decode worker holds for it (prompt and output). */
  decodeBlocks: number;
  /** Tokens of the request the decode worker takes on (prompt and output). */
  decodeTokens: number;
}

/** One request's charge on the ledger; each release happens once, whatever the order of calls. */
export class RequestCharge {
  private prefillHeld = true;
  private decodeHeld = true;

  constructor(
    private readonly ledger: LoadLedger,
    private readonly work: RequestWork,
  ) {
    ledger.addDecode(work.decodeWorker, work.decodeBlocks);
    ledger.noteWork(work.decodeWorker, work.decodeTokens);
    ledger.addPrefill(work.prefillWorker, work.prefillTokens);
  }

  /** The charge of a request placed as `placement`, with `promptTokens` and up to `maxTokens` of output. */
  static forPlacement(
    ledger: LoadLedger,
    placement: Placement<RosterWorker>,
    promptTokens: number,
    maxTokens: number,
    blockSize: number,
  ): RequestCharge {
    return new RequestCharge(ledger, {
      decodeWorker: placement.decode.info.workerId,
      prefillWorker: placement.prefill.info.workerId,
      prefillTokens: Math.max(0, promptTokens - placement.chosenCachedTokens),
      decodeBlocks: Math.ceil((promptTokens + maxTokens) / blockSize),
      decodeTokens: promptTokens + maxTokens,
    });
  }

  /** The worker the request's prefill is charged to now. */
  get prefillWorker(): string {
    return this.work.prefillWorker;
  }

  /** The prefill is done (the first token came): the prefill worker no longer holds it. */
  prefillDone(): void {
    if (!this.prefillHeld) return;
    this.prefillHeld = false;
    this.ledger.addPrefill(this.work.prefillWorker, -this.work.prefillTokens);
  }

  /** The prefill moved to `worker` (its worker was lost): charged there from now on. */
  movePrefill(worker: string): void {
    if (!this.prefillHeld || worker === this.work.prefillWorker) return;
    this.ledger.addPrefill(this.work.prefillWorker, -this.work.prefillTokens);
    this.work.prefillWorker = worker;
    this.ledger.addPrefill(worker, this.work.prefillTokens);
  }

  /** The request ended (completed, failed or cancelled): whatever it still holds is released. */
  end(): void {
    this.prefillDone();
    if (!this.decodeHeld) return;
    this.decodeHeld = false;
    this.ledger.addDecode(this.work.decodeWorker, -this.work.decodeBlocks);
  }
}
