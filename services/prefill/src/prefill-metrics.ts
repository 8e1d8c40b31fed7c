// The prefill worker's Prometheus metrics.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export class PrefillMetrics {
  readonly jobs: Counter<"outcome">;
  readonly inflight: Gauge;
  readonly computedTokens: Counter;
  readonly cachedTokens: Counter<"tier">;
  readonly loadedBytes: Counter<"tier">;
  readonly writtenBytes: Counter;
  readonly queueWait: Histogram;
  readonly duration: Histogram;

  constructor(r: Registry) {
    this.jobs = new Counter({
      name: "kvtier_prefill_jobs_total",
      help: "Prefill jobs by outcome",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.inflight = new Gauge({ name: "kvtier_prefill_inflight_requests", help: "Prefill jobs in progress", registers: [r] });
    this.computedTokens = new Counter({ name: "kvtier_prefill_computed_tokens_total", help: "Prompt tokens computed", registers: [r] });
    this.cachedTokens = new Counter({
      name: "kvtier_prefill_cached_tokens_total",
      help: "Prompt tokens loaded from cache, by tier",
      labelNames: ["tier"],
      registers: [r],
    });
    this.loadedBytes = new Counter({
      name: "kvtier_prefill_loaded_bytes_total",
      help: "Cached KV bytes loaded, by tier",
      labelNames: ["tier"],
      registers: [r],
    });
    this.writtenBytes = new Counter({
      name: "kvtier_prefill_written_bytes_total",
      help: "KV bytes written to the kvstore",
      registers: [r],
    });
    this.queueWait = new Histogram({
      name: "kvtier_prefill_queue_wait_seconds",
      help: "Time a job waited in the queue",
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers: [r],
    });
    this.duration = new Histogram({
      name: "kvtier_prefill_job_seconds",
      help: "Time to process a job",
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers: [r],
    });
  }
}
