// The kvstore's settings: the only module that reads the environment (through the platform
// readers, where a blank value counts as unset).
import { ConfigError, envBool, envId, envInt, envOptional, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";
import { DEFAULT_LEASE_TTL_MS, MAX_LEASE_TTL_MS } from "./lease-table.js";
import { DEFAULT_SSD_ADMIT_MIN_ACCESSES } from "@kvtier/kv-tiers";

/** Default gRPC port of a kvstore. */
export const DEFAULT_KVSTORE_PORT = 50052;
/** Default fast-path port: ephemeral, since clients discover it through Info. */
const DEFAULT_KVSTORE_FAST_PORT = 0;
/** Default directory of co-located shared-memory arenas. */
const DEFAULT_KVSTORE_SHM_DIR = "/dev/shm";
/** Default host-tier capacity: 256 MiB. */
export const DEFAULT_HOST_CAPACITY_BYTES = 256 * 1024 * 1024;
/** Default host high watermark, percent of capacity: a put past it evicts. */
const DEFAULT_HOST_HIGH_WATERMARK_PCT = 95;
/** Default host low watermark, percent of capacity: eviction goes down to it. */
const DEFAULT_HOST_LOW_WATERMARK_PCT = 90;
/** Default SSD-tier capacity: 8 GiB. */
const DEFAULT_SSD_CAPACITY_BYTES = 8 * 1024 * 1024 * 1024;
/** Eviction policies a tier can run. */
export const EVICTION_POLICIES = ["prefix-aware", "lru"] as const;
/** An eviction policy name. */
export type EvictionPolicyName = (typeof EVICTION_POLICIES)[number];

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
  /** KVTIER_HOST_HIGH_WATERMARK_PCT, percent of host capacity past which a put evicts. @default 95 */
  hostHighWatermarkPct: number;
  /** KVTIER_HOST_LOW_WATERMARK_PCT, percent of host capacity eviction goes down to (<= high). @default 90 */
  hostLowWatermarkPct: number;
  /** KVTIER_SSD_DIR, the SSD tier's directory; undefined = no SSD tier (memory acks only). @default unset */
  ssdDir: string | undefined;
  /** KVTIER_SSD_CAPACITY_BYTES, bytes of block files the SSD tier keeps. @default 8589934592 (8 GiB) */
  ssdCapacityBytes: number;
  /** KVTIER_SSD_WRITE_THROUGH, copy every memory put to SSD (else write-back of reused blocks on eviction). @default false */
  ssdWriteThrough: boolean;
  /** KVTIER_SSD_ADMIT_MIN_ACCESSES, uses a block evicted from host needs to be written back (1 = all). @default 2 */
  ssdAdmitMinAccesses: number;
  /** KVTIER_LEASE_TTL_MS, how long a lease lasts when a Get gives no TTL. @default 30000 */
  leaseTtlMs: number;
  /** KVTIER_EVICTION_POLICY, "prefix-aware" (leaf-first GreedyDual-Frequency) or "lru", for both tiers. @default "prefix-aware" */
  evictionPolicy: EvictionPolicyName;
}

function evictionPolicyOf(env: Record<string, string | undefined>): EvictionPolicyName {
  const v = envString(env, "KVTIER_EVICTION_POLICY", "prefix-aware");
  const known = EVICTION_POLICIES.find((p) => p === v);
  if (!known) throw new ConfigError("KVTIER_EVICTION_POLICY", `expected one of ${EVICTION_POLICIES.join(", ")}, got "${v}"`);
  return known;
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
    ...tierConfig(env),
  };
}

/** The tier settings (KVTIER_HOST_*_WATERMARK_PCT, KVTIER_SSD_*, KVTIER_LEASE_TTL_MS, KVTIER_EVICTION_POLICY). */
function tierConfig(
  env: Record<string, string | undefined>,
): Pick<
  KvStoreConfig,
  | "hostHighWatermarkPct"
  | "hostLowWatermarkPct"
  | "ssdDir"
  | "ssdCapacityBytes"
  | "ssdWriteThrough"
  | "ssdAdmitMinAccesses"
  | "leaseTtlMs"
  | "evictionPolicy"
> {
  const hostHighWatermarkPct = envInt(env, "KVTIER_HOST_HIGH_WATERMARK_PCT", DEFAULT_HOST_HIGH_WATERMARK_PCT, 1, 100);
  const hostLowWatermarkPct = envInt(
    env,
    "KVTIER_HOST_LOW_WATERMARK_PCT",
    Math.min(DEFAULT_HOST_LOW_WATERMARK_PCT, hostHighWatermarkPct),
    1,
    100,
  );
  if (hostLowWatermarkPct > hostHighWatermarkPct) {
    throw new ConfigError(
      "KVTIER_HOST_LOW_WATERMARK_PCT",
      `must not exceed KVTIER_HOST_HIGH_WATERMARK_PCT (${hostHighWatermarkPct}), got ${hostLowWatermarkPct}`,
    );
  }
  return {
    hostHighWatermarkPct,
    hostLowWatermarkPct,
    ssdDir: envOptional(env, "KVTIER_SSD_DIR"),
    ssdCapacityBytes: envInt(env, "KVTIER_SSD_CAPACITY_BYTES", DEFAULT_SSD_CAPACITY_BYTES, 1),
    ssdWriteThrough: envBool(env, "KVTIER_SSD_WRITE_THROUGH", false),
    ssdAdmitMinAccesses: envInt(env, "KVTIER_SSD_ADMIT_MIN_ACCESSES", DEFAULT_SSD_ADMIT_MIN_ACCESSES, 1, 1_000_000),
    leaseTtlMs: envInt(env, "KVTIER_LEASE_TTL_MS", DEFAULT_LEASE_TTL_MS, 1, MAX_LEASE_TTL_MS),
    evictionPolicy: evictionPolicyOf(env),
  };
}

/** The process's settings, from `process.env`. */
export function loadKvStoreConfig(): KvStoreConfig {
  return readKvStoreConfig(process.env);
}
