// Settings every service shares, read from the environment by each service's config module.
import { fileURLToPath } from "node:url";
import { ConfigError, envId, envInt, envOptional, envString } from "./env.js";
import { MAX_SERVICE_TOKEN_CHARS, MIN_SERVICE_TOKEN_CHARS, ServiceToken } from "./service-token.js";
import type { TracingConfig } from "./tracing.js";

/** Default heartbeat period. */
const DEFAULT_HEARTBEAT_MS = 1_000;
/** A worker silent for this long is dropped from the registry and the index. */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 3_000;
/** Node ids are host names (DNS labels and dots). */
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;
/** Default tokens per KV block. */
const DEFAULT_BLOCK_SIZE = 16;

/** `../shared/models` beside the repository (the default model directory). */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL("../../../../shared/models/", import.meta.url));

/** What every service reads. */
export interface CommonConfig {
  /** KVTIER_NAMESPACE, prefix of every Redis key and NATS subject. @default "kvtier" */
  namespace: string;
  /** REDIS_URL. @default "redis://127.0.0.1:6379" */
  redisUrl: string;
  /** NATS_URL. @default "nats://127.0.0.1:4222" */
  natsUrl: string;
  /** KVTIER_MODEL_DIR. @default ../shared/models beside the repository */
  modelDir: string;
  /** KVTIER_MODEL (file in modelDir or absolute path). @default "stories260K.bin" */
  checkpointPath: string;
  /** KVTIER_TOKENIZER (file in modelDir or absolute path). @default "tok512.bin" */
  tokenizerPath: string;
  /** KVTIER_BLOCK_SIZE, tokens per block. @default 16 */
  blockSize: number;
  /** KVTIER_HEARTBEAT_MS. @default 1000 */
  heartbeatMs: number;
  /** KVTIER_HEARTBEAT_TIMEOUT_MS. @default 3000 */
  heartbeatTimeoutMs: number;
  /** KVTIER_METRICS_PORT (0 = ephemeral). @default 0 */
  metricsPort: number;
  /** KVTIER_NODE_ID, the machine a worker shares with its kvstore (a Kubernetes node name fits). @default "node-1" */
  nodeId: string;
  /** The default id of this node's kvstore: `kvstore-<node id>` with characters ids may not hold replaced. */
  nodeKvstoreId: string;
  /** KVTIER_LOG_LEVEL. @default "info" */
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * KVTIER_SERVICE_TOKEN, the deployment's service credential: every internal endpoint (kvstore
   * gRPC and fast port, worker gRPC, debug pages) requires it, every internal client presents it.
   * Required: a per-deployment secret of at least 32 characters (`kvtier up` and the Kubernetes
   * package generate one).
   */
  serviceToken: ServiceToken;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, KVTIER_TRACE_DIR. @default both unset: no spans recorded */
  tracing: TracingConfig;
}

const inDir = (dir: string, file: string): string => (file.startsWith("/") ? file : `${dir.replace(/\/$/, "")}/${file}`);

/** The OTLP traces URL from the standard OpenTelemetry variables. */
function otlpTracesEndpoint(env: Record<string, string | undefined>): string | undefined {
  const traces = envOptional(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (traces) return traces;
  const base = envOptional(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  return base ? `${base.replace(/\/$/, "")}/v1/traces` : undefined;
}

/** The service credential from KVTIER_SERVICE_TOKEN; a ConfigError saying what to set when it is missing or malformed. */
function readServiceToken(env: Record<string, string | undefined>): ServiceToken {
  const value = envOptional(env, "KVTIER_SERVICE_TOKEN");
  if (value === undefined) {
    throw new ConfigError(
      "KVTIER_SERVICE_TOKEN",
      "required: the deployment's service credential, shared by its routers, workers and kvstores (a secret of at least " +
        `${MIN_SERVICE_TOKEN_CHARS} characters, e.g. from \`openssl rand -base64 32\`; \`kvtier up\` generates one)`,
    );
  }
  if (value.length < MIN_SERVICE_TOKEN_CHARS || value.length > MAX_SERVICE_TOKEN_CHARS) {
    throw new ConfigError(
      "KVTIER_SERVICE_TOKEN",
      `must have ${MIN_SERVICE_TOKEN_CHARS}-${MAX_SERVICE_TOKEN_CHARS} characters, got ${value.length}`,
    );
  }
  return new ServiceToken(value);
}

/** Read the shared settings from `env`. */
export function readCommonConfig(env: Record<string, string | undefined>): CommonConfig {
  const modelDir = envString(env, "KVTIER_MODEL_DIR", DEFAULT_MODEL_DIR);
  const logLevel = envString(env, "KVTIER_LOG_LEVEL", "info");
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new Error(`KVTIER_LOG_LEVEL: unknown level "${logLevel}"`);
  const heartbeatMs = envInt(env, "KVTIER_HEARTBEAT_MS", DEFAULT_HEARTBEAT_MS, 50, 60_000);
  const nodeId = envString(env, "KVTIER_NODE_ID", "node-1");
  if (!NODE_ID_PATTERN.test(nodeId)) throw new ConfigError("KVTIER_NODE_ID", `must match ${NODE_ID_PATTERN}, got "${nodeId}"`);
  return {
    namespace: envId(env, "KVTIER_NAMESPACE", "kvtier"),
    redisUrl: envString(env, "REDIS_URL", "redis://127.0.0.1:6379"),
    natsUrl: envString(env, "NATS_URL", "nats://127.0.0.1:4222"),
    modelDir,
    checkpointPath: inDir(modelDir, envString(env, "KVTIER_MODEL", "stories260K.bin")),
    tokenizerPath: inDir(modelDir, envString(env, "KVTIER_TOKENIZER", "tok512.bin")),
    blockSize: envInt(env, "KVTIER_BLOCK_SIZE", DEFAULT_BLOCK_SIZE, 1, 4096),
    heartbeatMs,
    heartbeatTimeoutMs: envInt(
      env,
      "KVTIER_HEARTBEAT_TIMEOUT_MS",
      Math.max(DEFAULT_HEARTBEAT_TIMEOUT_MS, 3 * heartbeatMs),
      heartbeatMs * 2,
      600_000,
    ),
    metricsPort: envInt(env, "KVTIER_METRICS_PORT", 0, 0, 65535),
    nodeId,
    nodeKvstoreId: `kvstore-${nodeId}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64),
    logLevel: logLevel as CommonConfig["logLevel"],
    serviceToken: readServiceToken(env),
    tracing: { otlpEndpoint: otlpTracesEndpoint(env), traceDir: envOptional(env, "KVTIER_TRACE_DIR") },
  };
}
