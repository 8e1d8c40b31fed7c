// Continuous batching: every step decodes one token for each running session (up to maxBatch)
// in one batched forward pass; sessions join and leave between steps. The forward pass runs in
// the engine's thread, so this loop only awaits it.
import { KvtierError, messageOf, type Logger } from "@kvtier/platform";
import type { EngineHost } from "@kvtier/tensor";
import type { DecodeMetrics } from "./decode-metrics.js";
import type { DecodeSession } from "./decode-session.js";

/** Called after a step for each block a session completed (to register and store it). */
export type BlockFilled = (session: DecodeSession, index: number, hash: Uint8Array) => void;

/** Why a session's row of the last step is unusable (a Quest page it selected could not be fetched), or null. */
export type RowFailure = (session: DecodeSession) => KvtierError | null;

export class BatchLoop {
  private running: DecodeSession[] = [];
  private looping = false;
  private maxSeen = 0;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly engine: EngineHost,
    private readonly maxBatch: number,
    private readonly metrics: DecodeMetrics,
    private readonly onBlockFilled: BlockFilled,
    private readonly log: Logger,
    private readonly rowFailure: RowFailure = () => null,
  ) {}

  /** Add a running session; it takes part from the next step on. */
  add(session: DecodeSession): void {
    this.running.push(session);
    if (!this.looping) {
      this.looping = true;
      this.idle = this.loop();
    }
  }

  get size(): number {
    return this.running.length;
  }

  /** Resolves when no step is in progress and nothing is running. */
  drained(): Promise<void> {
    return this.idle;
  }

  private async loop(): Promise<void> {
    try {
      while (this.running.length > 0) {
        this.running = this.running.filter((s) => s.state === "running");
        // round-robin fairness: the longest-waiting sessions go first when over maxBatch
        const batch = this.running.slice(0, this.maxBatch);
        if (batch.length === 0) break;
        this.running = [...this.running.slice(this.maxBatch), ...batch];
        this.metrics.batchSize.observe(batch.length);
        if (batch.length > this.maxSeen) {
          this.maxSeen = batch.length;
          this.metrics.batchSizeMax.set(this.maxSeen);
        }
        let logits: Float32Array[];
        try {
          logits = await this.engine.decodeStep(batch.map((s) => ({ seqId: s.seqId, token: s.nextToken })));
        } catch (err) {
          this.log.error("decode step failed", { err: messageOf(err) });
          for (const s of batch) s.abort(new KvtierError("INTERNAL", `decode step failed: ${messageOf(err)}`));
          continue;
        }
        batch.forEach((s, i) => {
          if (s.state !== "running") return; // cancelled while the step ran
          // the engine gives NaN logits to a row that could not attend over all it selected
          const failed =
            this.rowFailure(s) ??
            (Number.isNaN(logits[i][0]) ? new KvtierError("INTERNAL", "decode step produced no logits for this request") : null);
          if (failed) {
            s.abort(failed);
            return;
          }
          const filled = s.chain.append(s.nextToken);
          if (filled) this.onBlockFilled(s, filled.index, filled.hash);
          this.metrics.tokens.inc();
          s.step(logits[i]);
        });
      }
    } finally {
      this.looping = false;
    }
  }
}
