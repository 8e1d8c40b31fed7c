// The kvstore's settings: the only module that reads the environment (through the platform
// readers, where a blank value counts as unset).
import { envBool, envId, envInt, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";

/** Default gRPC port of a kvstore. */
export const DEFAULT_KVSTORE_PORT = 50052;
/** Default fast-path port: ephemeral, since clients discover it through Info. */
export const DEFAULT_KVSTORE_FAST_PORT = 0;
/** Default directory of co-located shared-memory arenas. */
export const DEFAULT_KVSTORE_SHM_DIR = "/dev/shm";
/** Default host-tier capacity: 256 MiB. */
export const DEFAULT_HOST_CAPACITY_BYTES = 256 * 1024 * 1024;

/** Everything the kvstore process needs to start. */
export interface KvStoreConfig {
  /** Settings every service shares (NATS_URL, KVTIER_NAMESPACE, KVTIER_METRICS_PORT, ...). */
  common: CommonConfig;
  /** KVTIER_KVSTORE_ID, the announcer id on NATS. @default "kvstore-<KVTIER_NODE_ID>" */
  storeId: string;
  /** KVTIER_KVSTORE_HOST, bind address of gRPC and metrics. @default "127.0.0.1" */
  host: string;
  /** KVTIER_KVSTORE_PORT (0 = ephemeral). @default 50052 */
  port: number;
  /** KVTIER_HOST_CAPACITY_BYTES, bytes of block data the host tier keeps. @default 268435456 (256 MiB) */
  hostCapacityBytes: number;
  /** KVTIER_KVSTORE_FAST_PATH: serve the length-framed TCP data path (and shared memory over it). @default true */
  fastPath: boolean;
  /** KVTIER_KVSTORE_FAST_PORT (0 = ephemeral; announced in Info). @default 0 */
  fastPort: number;
  /** KVTIER_KVSTORE_SHM_DIR, where co-located clients' arenas live; undefined when KVTIER_KVSTORE_SHM is false. @default "/dev/shm" */
  shmDir: string | undefined;
}

/** Read the kvstore's settings from `env`; throws ConfigError naming a malformed variable. */
export function readKvStoreConfig(env: Record<string, string | undefined>): KvStoreConfig {
  const common = readCommonConfig(env);
  return {
    common,
    storeId: envId(env, "KVTIER_KVSTORE_ID", common.nodeKvstoreId),
    host: envString(env, "KVTIER_KVSTORE_HOST", "127.0.0.1"),
    port: envInt(env, "KVTIER_KVSTORE_PORT", DEFAULT_KVSTORE_PORT, 0, 65535),
    hostCapacityBytes: envInt(env, "KVTIER_HOST_CAPACITY_BYTES", DEFAULT_HOST_CAPACITY_BYTES, 1),
    fastPath: envBool(env, "KVTIER_KVSTORE_FAST_PATH", true),
    fastPort: envInt(env, "KVTIER_KVSTORE_FAST_PORT", DEFAULT_KVSTORE_FAST_PORT, 0, 65535),
    shmDir: envBool(env, "KVTIER_KVSTORE_SHM", true) ? envString(env, "KVTIER_KVSTORE_SHM_DIR", DEFAULT_KVSTORE_SHM_DIR) : undefined,
  };
}

/** The process's settings, from `process.env`. */
export function loadKvStoreConfig(): KvStoreConfig {
  return readKvStoreConfig(process.env);
}
