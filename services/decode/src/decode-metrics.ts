// The decode worker's Prometheus metrics.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export class DecodeMetrics {
  readonly batchSize: Histogram;
  readonly batchSizeMax: Gauge;
  readonly inflight: Gauge;
  readonly tokens: Counter;
  readonly rejected: Counter<"reason">;
  readonly transferredBytes: Counter;
  readonly recomputedTokens: Counter;
  readonly storedBlocks: Counter;
  readonly finished: Counter<"reason">;

  constructor(r: Registry) {
    this.batchSize = new Histogram({
      name: "kvtier_decode_batch_size",
      help: "Sequences per batched decode step",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [r],
    });
    this.batchSizeMax = new Gauge({ name: "kvtier_decode_batch_size_max", help: "Largest decode batch since start", registers: [r] });
    this.inflight = new Gauge({ name: "kvtier_decode_inflight_requests", help: "Admitted requests not yet ended", registers: [r] });
    this.tokens = new Counter({ name: "kvtier_decode_tokens_total", help: "Tokens generated", registers: [r] });
    this.rejected = new Counter({
      name: "kvtier_decode_admission_rejected_total",
      help: "Requests refused at admission",
      labelNames: ["reason"],
      registers: [r],
    });
    this.transferredBytes = new Counter({
      name: "kvtier_decode_transferred_bytes_total",
      help: "KV bytes fetched for hand-offs",
      registers: [r],
    });
    this.recomputedTokens = new Counter({
      name: "kvtier_decode_recomputed_tokens_total",
      help: "Prompt tokens recomputed because their KV could not be fetched",
      registers: [r],
    });
    this.storedBlocks = new Counter({
      name: "kvtier_decode_stored_blocks_total",
      help: "Blocks filled during decode and written to the kvstore",
      registers: [r],
    });
    this.finished = new Counter({
      name: "kvtier_decode_finished_total",
      help: "Requests ended, by finish reason or status",
      labelNames: ["reason"],
      registers: [r],
    });
  }
}
