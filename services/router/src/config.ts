// The router's configuration: the only place it reads the environment.
import { KNOWN_CODECS, parsePolicySpec, formatPolicySpec, PolicyError } from "@kvtier/tensor";
import { chooseCodec } from "./codec-choice.js";
import { ConfigError, envBool, envInt, envOptional, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";
import {
  DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
  DEFAULT_ROUTING_WEIGHTS,
  ROUTING_POLICIES,
  type RoutingPolicy,
  type RoutingWeights,
} from "@kvtier/kv-router";

/** Upper bound on max_tokens a caller may ask for (the model context bounds it further). */
export const MAX_TOKENS_LIMIT = 4096;
/** Prompt length above which a request is refused before tokenizing, in bytes. */
export const MAX_PROMPT_BYTES = 256 * 1024;
/** Request state in Redis outlives the request by this much (cancel, idempotency). */
export const REQUEST_STATE_TTL_S = 3600;
/** Default time constant of the recent-work decay (the bounded-load term's measure, and routing's tie-break), ms. */
const DEFAULT_RECENT_WORK_TAU_MS = 60_000;
/** Default lifetime of a session's remembered worker after its last request, ms. */
const DEFAULT_SESSION_TTL_MS = 30 * 60_000;
/** Default quiet time after an announcer's last batch before the router re-snapshots it once (a lost last batch shows no gap), ms. */
const DEFAULT_QUIET_RESYNC_MS = 5_000;
/** Largest value accepted for a routing weight. */
const MAX_ROUTING_WEIGHT = 1e6;

/** How the router scores workers and keeps its view current (KVTIER_ROUTING_*). */
export interface RoutingConfig {
  /** KVTIER_ROUTING_POLICY: kv (prefix-aware), or a baseline: round-robin, random, least-loaded. @default "kv" */
  policy: RoutingPolicy;
  /**
   * The routing score's weights, each in tokens of prefill work (see @kvtier/kv-router):
   * KVTIER_ROUTING_DEVICE_WEIGHT (1.0), KVTIER_ROUTING_HOST_WEIGHT (0.6), KVTIER_ROUTING_SSD_WEIGHT
   * (0.3), KVTIER_ROUTING_PREFILL_LOAD_WEIGHT (0.25), KVTIER_ROUTING_DECODE_LOAD_WEIGHT (0.25),
   * KVTIER_ROUTING_SESSION_AFFINITY_TOKENS (512), KVTIER_ROUTING_TEMPERATURE (0),
   * KVTIER_ROUTING_OVERLOAD_WEIGHT (1.0: cost per uncached token that takes a worker's recent work
   * above the bound; 0 = no bounded-load term), KVTIER_ROUTING_OVERLOAD_SLACK (0.3: the bound is
   * 1.3 × the candidates' mean recent work), KVTIER_ROUTING_OVERLOAD_PENALTY_TOKENS (262144: value of
   * the shared part of its cached prefix that a worker loses per 100% of recent work above its
   * penalty bound, at most all of that part; 0 = off), KVTIER_ROUTING_OVERLOAD_PENALTY_SLACK (0.03:
   * that bound is 1.03 × the mean).
   */
  weights: RoutingWeights;
  /** KVTIER_ROUTING_RECENT_WORK_TAU_MS, decay of the recent work that the bounded-load term weighs and that breaks ties. @default 60000 */
  recentWorkTauMs: number;
  /** KVTIER_ROUTING_SESSION_TTL_MS, how long a session's last worker is remembered. @default 1800000 */
  sessionTtlMs: number;
  /** KVTIER_ROUTING_QUIET_RESYNC_MS, re-snapshot an announcer this long after its last batch (0 = never). @default 5000 */
  quietResyncMs: number;
  /** KVTIER_ROUTER_PEER_SHARE_MS, how often this replica shares its in-flight load with its peers. @default KVTIER_HEARTBEAT_MS */
  peerShareMs: number;
  /**
   * KVTIER_FAULT_DROP_EVENT_BATCHES: FAULT INJECTION for tests. Drop each KV event batch this
   * router receives with probability 1/N (seeded), as if lost on the way, to exercise gap
   * detection and snapshot repair.
   * @default 0 (off)
   */
  faultDropEventBatches: number;
}

export interface RouterConfig extends CommonConfig {
  /** KVTIER_ROUTER_HOST. @default "127.0.0.1" */
  host: string;
  /** KVTIER_ROUTER_PORT (0 = ephemeral). @default 50051 */
  port: number;
  /** KVTIER_API_KEYS, "key=tenant,key2=tenant2". @default none */
  apiKeys: Map<string, string>;
  /** KVTIER_ALLOW_ANONYMOUS: calls without a key run as tenant "anonymous". @default false */
  allowAnonymous: boolean;
  /** KVTIER_TENANT_SECRET, the server secret tenant salts derive from. @default a fixed dev value (set it in production) */
  tenantSecret: string;
  /** KVTIER_DEFAULT_CODEC for stored blocks, an id or alias ("kivi2"), held as the id; checked against the block size. @default "fp32" */
  defaultCodec: string;
  /** KVTIER_DEFAULT_POLICY, the selection policy of requests that name none ("snapkv@25"; canonical form). @default "none" */
  defaultPolicy: string;
  /**
   * KVTIER_LOCAL_PREFILL_MAX_TOKENS: prefill on the decode worker when this few tokens are uncached. @default
   * DEFAULT_LOCAL_PREFILL_MAX_TOKENS (32)
   */
  localPrefillMaxTokens: number;
  /** KVTIER_PREFILL_ATTEMPTS, BullMQ attempts per prefill job (transient failures). @default 2 */
  prefillJobAttempts: number;
  /** KVTIER_DECODE_ADMIT_TRIES, decode workers tried when one refuses with RESOURCE_EXHAUSTED. @default 2 */
  decodeAdmitTries: number;
  /** KVTIER_ROUTING_* and related settings. */
  routing: RoutingConfig;
  /** KVTIER_DEBUG_ENDPOINTS: serve GET /debug/index on the metrics port (to callers presenting the service token). @default false */
  debugEndpoints: boolean;
}

type Env = Record<string, string | undefined>;

/** A finite number within [min, max], or `fallback` when unset (blank counts as unset). */
function envNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = envOptional(env, name);
  if (raw === undefined) return fallback;
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(name, `expected a number, got "${raw}"`);
  if (n < min || n > max) throw new ConfigError(name, `must be within [${min}, ${max}], got ${n}`);
  return n;
}

/** The routing settings from `env`; `heartbeatMs` is the default share period. */
export function readRoutingConfig(env: Env, heartbeatMs: number): RoutingConfig {
  const w = DEFAULT_ROUTING_WEIGHTS;
  const weight = (name: string, fallback: number): number => envNumber(env, name, fallback, 0, MAX_ROUTING_WEIGHT);
  const policy = envString(env, "KVTIER_ROUTING_POLICY", "kv");
  if (!(ROUTING_POLICIES as readonly string[]).includes(policy))
    throw new ConfigError("KVTIER_ROUTING_POLICY", `expected one of ${ROUTING_POLICIES.join(", ")}, got "${policy}"`);
  return {
    policy: policy as RoutingPolicy,
    weights: {
      device: weight("KVTIER_ROUTING_DEVICE_WEIGHT", w.device),
      host: weight("KVTIER_ROUTING_HOST_WEIGHT", w.host),
      ssd: weight("KVTIER_ROUTING_SSD_WEIGHT", w.ssd),
      prefillLoad: weight("KVTIER_ROUTING_PREFILL_LOAD_WEIGHT", w.prefillLoad),
      decodeLoad: weight("KVTIER_ROUTING_DECODE_LOAD_WEIGHT", w.decodeLoad),
      sessionAffinity: weight("KVTIER_ROUTING_SESSION_AFFINITY_TOKENS", w.sessionAffinity),
      temperature: weight("KVTIER_ROUTING_TEMPERATURE", w.temperature),
      overload: weight("KVTIER_ROUTING_OVERLOAD_WEIGHT", w.overload),
      overloadSlack: weight("KVTIER_ROUTING_OVERLOAD_SLACK", w.overloadSlack),
      overloadPenalty: weight("KVTIER_ROUTING_OVERLOAD_PENALTY_TOKENS", w.overloadPenalty),
      overloadPenaltySlack: weight("KVTIER_ROUTING_OVERLOAD_PENALTY_SLACK", w.overloadPenaltySlack),
    },
    recentWorkTauMs: envInt(env, "KVTIER_ROUTING_RECENT_WORK_TAU_MS", DEFAULT_RECENT_WORK_TAU_MS, 1, 86_400_000),
    sessionTtlMs: envInt(env, "KVTIER_ROUTING_SESSION_TTL_MS", DEFAULT_SESSION_TTL_MS, 1, 7 * 86_400_000),
    quietResyncMs: envInt(env, "KVTIER_ROUTING_QUIET_RESYNC_MS", DEFAULT_QUIET_RESYNC_MS, 0, 86_400_000),
    peerShareMs: envInt(env, "KVTIER_ROUTER_PEER_SHARE_MS", heartbeatMs, 10, 60_000),
    faultDropEventBatches: envInt(env, "KVTIER_FAULT_DROP_EVENT_BATCHES", 0, 0, 1_000_000),
  };
}

function parseApiKeys(raw: string | undefined): Map<string, string> {
  const keys = new Map<string, string>();
  if (!raw) return keys;
  for (const pair of raw.split(",")) {
    const [key, tenant] = pair.split("=").map((s) => s.trim());
    if (!key || !tenant || !/^[A-Za-z0-9_-]{1,64}$/.test(tenant))
      throw new ConfigError("KVTIER_API_KEYS", `expected "key=tenant,...", got "${pair}"`);
    keys.set(key, tenant);
  }
  return keys;
}

function parseDefaultPolicy(raw: string): string {
  try {
    return formatPolicySpec(parsePolicySpec(raw));
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError("KVTIER_DEFAULT_POLICY", err.message);
    throw err;
  }
}

/** The router's settings from `env`; throws ConfigError naming a malformed variable. */
export function readRouterConfig(env: Env = process.env): RouterConfig {
  const common = readCommonConfig(env);
  return {
    ...common,
    host: envString(env, "KVTIER_ROUTER_HOST", "127.0.0.1"),
    port: envInt(env, "KVTIER_ROUTER_PORT", 50051, 0, 65535),
    apiKeys: parseApiKeys(envOptional(env, "KVTIER_API_KEYS")),
    allowAnonymous: envBool(env, "KVTIER_ALLOW_ANONYMOUS", false),
    tenantSecret: envString(env, "KVTIER_TENANT_SECRET", "kvtier-dev-secret"),
    defaultCodec: chooseCodec(
      envString(env, "KVTIER_DEFAULT_CODEC", "fp32"),
      KNOWN_CODECS,
      common.blockSize,
      (problem) => new ConfigError("KVTIER_DEFAULT_CODEC", problem),
    ),
    defaultPolicy: parseDefaultPolicy(envString(env, "KVTIER_DEFAULT_POLICY", "none")),
    localPrefillMaxTokens: envInt(env, "KVTIER_LOCAL_PREFILL_MAX_TOKENS", DEFAULT_LOCAL_PREFILL_MAX_TOKENS, 0, 1 << 20),
    prefillJobAttempts: envInt(env, "KVTIER_PREFILL_ATTEMPTS", 2, 1, 10),
    decodeAdmitTries: envInt(env, "KVTIER_DECODE_ADMIT_TRIES", 2, 1, 16),
    routing: readRoutingConfig(env, common.heartbeatMs),
    debugEndpoints: envBool(env, "KVTIER_DEBUG_ENDPOINTS", false),
  };
}
