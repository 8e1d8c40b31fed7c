// The decode worker's configuration: the only place it reads the environment.
import { randomBytes } from "node:crypto";
import { envId, envInt, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";

/** Largest number of sequences decoded in one batched step. @default 16 */
const DEFAULT_MAX_BATCH = 16;

export interface DecodeConfig extends CommonConfig {
  /** KVTIER_WORKER_ID. @default "decode-<random>" */
  workerId: string;
  /** KVTIER_DECODE_HOST, bind address. @default "127.0.0.1" */
  host: string;
  /** KVTIER_DECODE_PORT (0 = ephemeral). @default 0 */
  port: number;
  /** KVTIER_KVSTORE_ENDPOINT, this node's kvstore. @default "127.0.0.1:50052" */
  kvstoreEndpoint: string;
  /** KVTIER_KVSTORE_ID. @default "kvstore-<nodeId>" */
  kvstoreId: string;
  /** KVTIER_DEVICE_BLOCKS, KV pool size in blocks. @default 2048 */
  deviceBlocks: number;
  /** KVTIER_MAX_BATCH. @default 16 */
  maxBatch: number;
  /** KVTIER_MAX_RUNNING, admitted requests at once (admission control). @default 64 */
  maxRunning: number;
  /** KVTIER_KV_READY_TIMEOUT_MS, how long an admitted request waits for its KV. @default 60000 */
  kvReadyTimeoutMs: number;
}

export function readDecodeConfig(env: Record<string, string | undefined> = process.env): DecodeConfig {
  const common = readCommonConfig(env);
  return {
    ...common,
    workerId: envId(env, "KVTIER_WORKER_ID", `decode-${randomBytes(3).toString("hex")}`),
    host: envString(env, "KVTIER_DECODE_HOST", "127.0.0.1"),
    port: envInt(env, "KVTIER_DECODE_PORT", 0, 0, 65535),
    kvstoreEndpoint: envString(env, "KVTIER_KVSTORE_ENDPOINT", "127.0.0.1:50052"),
    kvstoreId: envId(env, "KVTIER_KVSTORE_ID", common.nodeKvstoreId),
    deviceBlocks: envInt(env, "KVTIER_DEVICE_BLOCKS", 2048, 1, 1 << 24),
    maxBatch: envInt(env, "KVTIER_MAX_BATCH", DEFAULT_MAX_BATCH, 1, 1024),
    maxRunning: envInt(env, "KVTIER_MAX_RUNNING", 64, 1, 100_000),
    kvReadyTimeoutMs: envInt(env, "KVTIER_KV_READY_TIMEOUT_MS", 60_000, 100, 3_600_000),
  };
}
