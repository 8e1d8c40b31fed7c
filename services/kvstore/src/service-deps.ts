// What the gRPC handlers share.
import type { Logger } from "@kvtier/platform";
import type { KvBlockStore } from "./block-store.js";
import type { KvStoreMetrics } from "./kvstore-metrics.js";
import type { PutBudget } from "./put-budget.js";

/** The store behind the gRPC service and its telemetry. */
export interface ServiceDeps {
  store: KvBlockStore;
  budget: PutBudget;
  metrics: KvStoreMetrics | undefined;
  log: Logger | undefined;
}
