// What a caller may choose about a local stack, with every default stated where it is declared.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalStackError } from "./local-stack-error.js";

/** The four services of kvtier, in start order. */
export const SERVICE_KINDS = ["kvstore", "prefill", "decode", "router"] as const;
/** One of the services. */
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** How long a service may take to print its ready line (the engine loads the model first). */
const DEFAULT_READY_TIMEOUT_MS = 60_000;
/**
 * Grace between SIGTERM and SIGKILL when stopping a service; longer than the services' own
 * shutdown grace (platform's SHUTDOWN_GRACE_MS, 10 s) so that a clean shutdown is never cut short.
 */
const DEFAULT_STOP_GRACE_MS = 12_000;
/** Most workers of one kind a local stack starts (each is a Node process with its own engine). */
export const MAX_WORKERS_PER_KIND = 16;
/** Most router replicas a local stack starts. */
const MAX_ROUTERS = 8;
/** Namespaces and ids travel in Redis keys and NATS subjects (same rule as platform's ID_PATTERN). */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Characters that would break the router's "key=tenant,key=tenant" list. */
const API_KEY_LIST_SEPARATORS = /[,=\s]/;

/** Environment variables to add, by name. */
export type EnvVars = Record<string, string>;

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Redis to use; when absent the stack starts (and owns) its own redis-server. */
  redisUrl?: string;
  /** NATS to use; when absent the stack starts (and owns) its own nats-server. */
  natsUrl?: string;
  /** KVTIER_NAMESPACE of every process. @default a fresh random `t<12 hex>` */
  namespace?: string;
  /** Prefill workers to start (0 = the decode workers prefill everything). @default 1 */
  prefillWorkers?: number;
  /** Decode workers to start (at least 1). @default 1 */
  decodeWorkers?: number;
  /** Router replicas to start, named "router", "router-2", ... (each rebuilds its own index). @default 1 */
  routers?: number;
  /** KVTIER_API_KEYS of the router, API key → tenant. @default {} */
  apiKeys?: Record<string, string>;
  /** KVTIER_ALLOW_ANONYMOUS of the router. @default true when `apiKeys` is empty, else false */
  allowAnonymous?: boolean;
  /** KVTIER_TENANT_SECRET of the router. @default a fresh random secret */
  tenantSecret?: string;
  /** KVTIER_SERVICE_TOKEN of every process, the stack's service credential (32+ characters). @default a fresh random token */
  serviceToken?: string;
  /** KVTIER_HEARTBEAT_MS of every process. @default unset (the services' default, 1000) */
  heartbeatMs?: number;
  /** KVTIER_HEARTBEAT_TIMEOUT_MS of every process. @default unset (the services' default, 3000) */
  heartbeatTimeoutMs?: number;
  /** KVTIER_BLOCK_SIZE of every process. @default unset (the services' default, 16) */
  blockSize?: number;
  /** KVTIER_DEVICE_BLOCKS of the prefill and decode workers. @default unset (the services' default) */
  deviceBlocks?: number;
  /** Extra environment for every process. @default {} */
  env?: EnvVars;
  /** Extra environment by service kind (wins over `env`). @default {} */
  serviceEnv?: Partial<Record<ServiceKind, EnvVars>>;
  /** Extra environment by process name, e.g. "decode-2" (wins over `serviceEnv`). @default {} */
  processEnv?: Record<string, EnvVars>;
  /** Where each process's output goes, one `<name>.log` per process. @default a new temp dir */
  logDir?: string;
  /**
   * Echo every output line of the services: `true` writes `[name] line` to stderr, a function
   * receives the prefixed line. @default false
   */
  echo?: boolean | ((line: string) => void);
  /** The repository whose `services/<name>/dist/main.js` are run. @default this checkout */
  repoRoot?: string;
  /** Per-process wait for the ready line. @default DEFAULT_READY_TIMEOUT_MS */
  readyTimeoutMs?: number;
  /** Per-process grace between SIGTERM and SIGKILL on stop. @default DEFAULT_STOP_GRACE_MS */
  stopGraceMs?: number;
}

/** StackOptions with every default applied. */
export interface StackOptionsWithDefaults extends Required<
  Omit<StackOptions, "redisUrl" | "natsUrl" | "heartbeatMs" | "heartbeatTimeoutMs" | "blockSize" | "deviceBlocks" | "echo">
> {
  redisUrl: string | undefined;
  natsUrl: string | undefined;
  heartbeatMs: number | undefined;
  heartbeatTimeoutMs: number | undefined;
  blockSize: number | undefined;
  deviceBlocks: number | undefined;
  echo: ((line: string) => void) | undefined;
}

/** `libs/local-stack/{src,dist}/` → the repository root. */
const DEFAULT_REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const badOption = (name: string, problem: string): LocalStackError => new LocalStackError("BAD_OPTION", `${name}: ${problem}`);

function count(name: string, value: number | undefined, fallback: number, min: number, max = MAX_WORKERS_PER_KIND): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max) throw badOption(name, `expected an integer in [${min}, ${max}], got ${n}`);
  return n;
}

function positive(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw badOption(name, `expected a positive integer, got ${value}`);
  return value;
}

/** Shortest service token the services accept (platform's MIN_SERVICE_TOKEN_CHARS). */
const MIN_SERVICE_TOKEN_CHARS = 32;

function serviceTokenOf(given: string | undefined): string {
  if (given === undefined) return randomBytes(32).toString("base64url");
  if (given.length < MIN_SERVICE_TOKEN_CHARS)
    throw badOption("serviceToken", `must have at least ${MIN_SERVICE_TOKEN_CHARS} characters, got ${given.length}`);
  return given;
}

/** Validate `opts` and fill in the defaults; throws a BAD_OPTION LocalStackError naming the option. */
export function stackOptionsWithDefaults(opts: StackOptions): StackOptionsWithDefaults {
  const namespace = opts.namespace ?? `t${randomBytes(6).toString("hex")}`;
  if (!ID_PATTERN.test(namespace)) throw badOption("namespace", `must match ${ID_PATTERN}, got "${namespace}"`);
  const apiKeys = opts.apiKeys ?? {};
  for (const [key, tenant] of Object.entries(apiKeys)) {
    if (key === "" || API_KEY_LIST_SEPARATORS.test(key))
      throw badOption("apiKeys", `an API key must be non-empty without ",", "=" or spaces, got "${key}"`);
    if (tenant === "" || API_KEY_LIST_SEPARATORS.test(tenant))
      throw badOption("apiKeys", `tenant of "${key}" must be non-empty without ",", "=" or spaces`);
  }
  const echo = opts.echo === true ? (line: string) => void process.stderr.write(`${line}\n`) : opts.echo || undefined;
  return {
    redisUrl: opts.redisUrl,
    natsUrl: opts.natsUrl,
    namespace,
    prefillWorkers: count("prefillWorkers", opts.prefillWorkers, 1, 0),
    decodeWorkers: count("decodeWorkers", opts.decodeWorkers, 1, 1),
    routers: count("routers", opts.routers, 1, 1, MAX_ROUTERS),
    apiKeys,
    allowAnonymous: opts.allowAnonymous ?? Object.keys(apiKeys).length === 0,
    tenantSecret: opts.tenantSecret ?? randomBytes(16).toString("hex"),
    serviceToken: serviceTokenOf(opts.serviceToken),
    heartbeatMs: positive("heartbeatMs", opts.heartbeatMs),
    heartbeatTimeoutMs: positive("heartbeatTimeoutMs", opts.heartbeatTimeoutMs),
    blockSize: positive("blockSize", opts.blockSize),
    deviceBlocks: positive("deviceBlocks", opts.deviceBlocks),
    env: opts.env ?? {},
    serviceEnv: opts.serviceEnv ?? {},
    processEnv: opts.processEnv ?? {},
    echo,
    repoRoot: opts.repoRoot ?? DEFAULT_REPO_ROOT,
    readyTimeoutMs: positive("readyTimeoutMs", opts.readyTimeoutMs) ?? DEFAULT_READY_TIMEOUT_MS,
    stopGraceMs: positive("stopGraceMs", opts.stopGraceMs) ?? DEFAULT_STOP_GRACE_MS,
    // Last, so that a bad option leaves no temp dir behind.
    logDir: opts.logDir ?? mkdtempSync(join(tmpdir(), `kvtier-${namespace}-`)),
  };
}
