// The prefill worker's configuration: the only place it reads the environment.
import { randomBytes } from "node:crypto";
import { envId, envInt, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";

export interface PrefillConfig extends CommonConfig {
  /** KVTIER_WORKER_ID. @default "prefill-<random>" */
  workerId: string;
  /** KVTIER_KVSTORE_ENDPOINT, this node's kvstore. @default "127.0.0.1:50052" */
  kvstoreEndpoint: string;
  /** KVTIER_KVSTORE_ID. @default "kvstore-<nodeId>" */
  kvstoreId: string;
  /** KVTIER_DEVICE_BLOCKS, KV pool size in blocks. @default 2048 */
  deviceBlocks: number;
  /** KVTIER_PREFILL_CONCURRENCY, jobs in progress at once (the engine runs one forward at a time). @default 2 */
  concurrency: number;
  /** KVTIER_KV_READY_TIMEOUT_MS, how long to wait for the decode worker's reply. @default 5000 */
  kvReadyTimeoutMs: number;
  /** KVTIER_JOB_LOCK_MS, BullMQ lock duration (stalled-job detection). @default 10000 */
  jobLockMs: number;
}

export function readPrefillConfig(env: Record<string, string | undefined> = process.env): PrefillConfig {
  const common = readCommonConfig(env);
  return {
    ...common,
    workerId: envId(env, "KVTIER_WORKER_ID", `prefill-${randomBytes(3).toString("hex")}`),
    kvstoreEndpoint: envString(env, "KVTIER_KVSTORE_ENDPOINT", "127.0.0.1:50052"),
    kvstoreId: envId(env, "KVTIER_KVSTORE_ID", common.nodeKvstoreId),
    deviceBlocks: envInt(env, "KVTIER_DEVICE_BLOCKS", 2048, 1, 1 << 24),
    concurrency: envInt(env, "KVTIER_PREFILL_CONCURRENCY", 2, 1, 64),
    kvReadyTimeoutMs: envInt(env, "KVTIER_KV_READY_TIMEOUT_MS", 5_000, 100, 600_000),
    jobLockMs: envInt(env, "KVTIER_JOB_LOCK_MS", 10_000, 1_000, 600_000),
  };
}
