// The router's Prometheus metrics (DESIGN.md section 8): requests, latency, prefix hits (available
// at the best worker / captured by the chosen one / actually loaded), decision latency, the index
// and its event stream, refused workers, peer replicas.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { BatchOutcome, SyncObserver } from "./kv-index-sync.js";

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DECISION_BUCKETS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.01];

/** Live values the gauges read at scrape time. */
export interface RouterGaugeSources {
  indexBlocks(): number;
  indexLocations(): number;
  indexTableBytes(): number;
  peerRouters(): number;
  sessions(): number;
}

export class RouterMetrics implements SyncObserver {
  readonly requests: Counter<"code">;
  readonly inflight: Gauge;
  readonly ttft: Histogram;
  readonly tpot: Histogram;
  readonly decisionSeconds: Histogram;
  readonly prefixTokens: Counter<"kind">;
  readonly cachedByTier: Counter<"tier">;
  readonly disaggregated: Counter<"mode">;
  readonly eventBatches: Counter<"outcome">;
  readonly snapshots: Counter<"result">;
  readonly refusedWorkers: Gauge<"worker" | "reason">;

  constructor(
    r: Registry,
    private readonly sources?: RouterGaugeSources,
  ) {
    this.requests = new Counter({
      name: "kvtier_router_requests_total",
      help: "Generate requests by final status",
      labelNames: ["code"],
      registers: [r],
    });
    this.inflight = new Gauge({ name: "kvtier_router_inflight_requests", help: "Generate requests in progress", registers: [r] });
    this.ttft = new Histogram({
      name: "kvtier_router_ttft_seconds",
      help: "Time to first token",
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.tpot = new Histogram({
      name: "kvtier_router_tpot_seconds",
      help: "Time per output token after the first",
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    this.decisionSeconds = new Histogram({
      name: "kvtier_router_decision_seconds",
      help: "Prefix lookup and worker scoring per request (tokenizing and hashing excluded)",
      buckets: DECISION_BUCKETS,
      registers: [r],
    });
    this.prefixTokens = new Counter({
      name: "kvtier_router_prefix_hit_tokens_total",
      help: "Prompt tokens cached: available at the best worker, captured by the chosen worker, actually loaded",
      labelNames: ["kind"],
      registers: [r],
    });
    this.cachedByTier = new Counter({
      name: "kvtier_router_cached_tokens_total",
      help: "Prompt tokens served from cache, by tier",
      labelNames: ["tier"],
      registers: [r],
    });
    this.disaggregated = new Counter({
      name: "kvtier_router_placements_total",
      help: "Requests by prefill placement",
      labelNames: ["mode"],
      registers: [r],
    });
    this.eventBatches = new Counter({
      name: "kvtier_router_kv_event_batches_total",
      help: "KV event batches received, by outcome (apply, duplicate, gap, restart, rejected, undecodable, refused_announcer, fault_dropped)",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.snapshots = new Counter({
      name: "kvtier_router_kv_snapshots_total",
      help: "Announcer snapshots taken, by result",
      labelNames: ["result"],
      registers: [r],
    });
    this.refusedWorkers = new Gauge({
      name: "kvtier_router_refused_workers",
      help: "Workers refused for an incompatible KV layout (1 per worker, with the reason)",
      labelNames: ["worker", "reason"],
      registers: [r],
    });
    const gauge = (name: string, help: string, read: (s: RouterGaugeSources) => number): void => {
      const src = this.sources;
      new Gauge({
        name,
        help,
        registers: [r],
        collect(): void {
          if (src) this.set(read(src));
        },
      });
    };
    gauge("kvtier_router_index_blocks", "Distinct blocks in the prefix index", (s) => s.indexBlocks());
    gauge("kvtier_router_index_locations", "Locations (worker pools, kvstores) holding indexed blocks", (s) => s.indexLocations());
    gauge("kvtier_router_index_table_bytes", "Bytes of the prefix index's hash table", (s) => s.indexTableBytes());
    gauge("kvtier_router_peer_routers", "Other router replicas heard from recently", (s) => s.peerRouters());
    gauge("kvtier_router_sessions", "Sessions whose last workers are remembered", (s) => s.sessions());
  }

  batch(outcome: BatchOutcome): void {
    this.eventBatches.inc({ outcome });
  }

  snapshot(result: "applied" | "stale" | "failed"): void {
    this.snapshots.inc({ result });
  }

  /** Sets the refused-workers gauge to exactly `refused`. */
  setRefused(refused: ReadonlyMap<string, string>): void {
    this.refusedWorkers.reset();
    for (const [worker, reason] of refused) this.refusedWorkers.set({ worker, reason }, 1);
  }
}
