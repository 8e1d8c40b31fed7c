// The router's configuration: the only place it reads the environment.
import { KNOWN_CODECS, parsePolicySpec, formatPolicySpec, PolicyError } from "@kvtier/tensor";
import { chooseCodec } from "./codec-choice.js";
import { ConfigError, envBool, envInt, envOptional, envString, readCommonConfig, type CommonConfig } from "@kvtier/platform";

/** Upper bound on max_tokens a caller may ask for (the model context bounds it further). */
export const MAX_TOKENS_LIMIT = 4096;
/** Prompt length above which a request is refused before tokenizing, in bytes. */
export const MAX_PROMPT_BYTES = 256 * 1024;
/** Alternatives per position a caller may ask logprobs for. */
export const MAX_LOGPROBS = 20;
/** Request state in Redis outlives the request by this much (cancel, idempotency). */
export const REQUEST_STATE_TTL_S = 3600;

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
  /** KVTIER_LOCAL_PREFILL_MAX_TOKENS: prefill on the decode worker when this few tokens are uncached. @default 32 */
  localPrefillMaxTokens: number;
  /** KVTIER_PREFILL_ATTEMPTS, BullMQ attempts per prefill job (transient failures). @default 2 */
  prefillJobAttempts: number;
  /** KVTIER_DECODE_ADMIT_TRIES, decode workers tried when one refuses with RESOURCE_EXHAUSTED. @default 2 */
  decodeAdmitTries: number;
}

function parseApiKeys(raw: string | undefined): Map<string, string> {
  const keys = new Map<string, string>();
  if (!raw) return keys;
  for (const pair of raw.split(",")) {
    const [key, tenant] = pair.split("=").map((s) => s.trim());
    if (!key || !tenant || !/^[A-Za-z0-9_-]{1,64}$/.test(tenant)) throw new ConfigError("KVTIER_API_KEYS", `expected "key=tenant,...", got "${pair}"`);
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

export function readRouterConfig(env: Record<string, string | undefined> = process.env): RouterConfig {
  const common = readCommonConfig(env);
  return {
    ...common,
    host: envString(env, "KVTIER_ROUTER_HOST", "127.0.0.1"),
    port: envInt(env, "KVTIER_ROUTER_PORT", 50051, 0, 65535),
    apiKeys: parseApiKeys(envOptional(env, "KVTIER_API_KEYS")),
    allowAnonymous: envBool(env, "KVTIER_ALLOW_ANONYMOUS", false),
    tenantSecret: envString(env, "KVTIER_TENANT_SECRET", "kvtier-dev-secret"),
    defaultCodec: chooseCodec(envString(env, "KVTIER_DEFAULT_CODEC", "fp32"), KNOWN_CODECS, common.blockSize, (problem) => new ConfigError("KVTIER_DEFAULT_CODEC", problem)),
    defaultPolicy: parseDefaultPolicy(envString(env, "KVTIER_DEFAULT_POLICY", "none")),
    localPrefillMaxTokens: envInt(env, "KVTIER_LOCAL_PREFILL_MAX_TOKENS", 32, 0, 1 << 20),
    prefillJobAttempts: envInt(env, "KVTIER_PREFILL_ATTEMPTS", 2, 1, 10),
    decodeAdmitTries: envInt(env, "KVTIER_DECODE_ADMIT_TRIES", 2, 1, 16),
  };
}
