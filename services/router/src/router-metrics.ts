// The router's Prometheus metrics (DESIGN.md section 8).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class RouterMetrics {
  readonly requests: Counter<"code">;
  readonly inflight: Gauge;
  readonly ttft: Histogram;
  readonly tpot: Histogram;
  readonly decisionSeconds: Histogram;
  readonly prefixTokens: Counter<"kind">;
  readonly cachedByTier: Counter<"tier">;
  readonly disaggregated: Counter<"mode">;

  constructor(r: Registry) {
    this.requests = new Counter({ name: "kvtier_router_requests_total", help: "Generate requests by final status", labelNames: ["code"], registers: [r] });
    this.inflight = new Gauge({ name: "kvtier_router_inflight_requests", help: "Generate requests in progress", registers: [r] });
    this.ttft = new Histogram({ name: "kvtier_router_ttft_seconds", help: "Time to first token", buckets: LATENCY_BUCKETS, registers: [r] });
    this.tpot = new Histogram({ name: "kvtier_router_tpot_seconds", help: "Time per output token after the first", buckets: LATENCY_BUCKETS, registers: [r] });
    this.decisionSeconds = new Histogram({ name: "kvtier_router_decision_seconds", help: "Lookup and scoring time per request", buckets: [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01], registers: [r] });
    this.prefixTokens = new Counter({
      name: "kvtier_router_prefix_hit_tokens_total",
      help: "Prompt tokens cached: available at the best worker, captured by the chosen worker, actually loaded",
      labelNames: ["kind"],
      registers: [r],
    });
    this.cachedByTier = new Counter({ name: "kvtier_router_cached_tokens_total", help: "Prompt tokens served from cache, by tier", labelNames: ["tier"], registers: [r] });
    this.disaggregated = new Counter({ name: "kvtier_router_placements_total", help: "Requests by prefill placement", labelNames: ["mode"], registers: [r] });
  }
}
