// The environment of each stack process: the services are configured only by environment
// variables, so this module is the whole contract between the launcher and the services.
import { LOOPBACK_HOST } from "./free-port.js";
import type { EnvVars, ServiceKind, StackOptionsWithDefaults } from "./stack-options.js";

/** The machine id every process of a local stack shares (one node, one kvstore). */
const LOCAL_NODE_ID = "node-1";

/** One process to start: its kind and its name, which is also its worker/store id. */
export interface ProcessPlan {
  service: ServiceKind;
  /** e.g. "decode-2"; unique in the stack. */
  name: string;
}

/** Where the stack's shared pieces are, known once Redis, NATS and the kvstore run. */
export interface StackWiring {
  redisUrl: string;
  natsUrl: string;
  /** Set once the kvstore is ready; the workers need it. */
  kvstore?: { id: string; endpoint: string };
}

function ownSettings(plan: ProcessPlan, opts: StackOptionsWithDefaults, wiring: StackWiring): EnvVars {
  const kvstore = (): EnvVars => {
    if (wiring.kvstore === undefined) throw new Error(`${plan.name} needs the kvstore, which is not ready`);
    return { KVTIER_KVSTORE_ENDPOINT: wiring.kvstore.endpoint, KVTIER_KVSTORE_ID: wiring.kvstore.id };
  };
  const deviceBlocks: EnvVars = opts.deviceBlocks === undefined ? {} : { KVTIER_DEVICE_BLOCKS: String(opts.deviceBlocks) };
  switch (plan.service) {
    case "kvstore":
      return { KVTIER_KVSTORE_ID: plan.name, KVTIER_KVSTORE_HOST: LOOPBACK_HOST, KVTIER_KVSTORE_PORT: "0" };
    case "prefill":
      return { KVTIER_WORKER_ID: plan.name, ...kvstore(), ...deviceBlocks };
    case "decode":
      return { KVTIER_WORKER_ID: plan.name, KVTIER_DECODE_HOST: LOOPBACK_HOST, KVTIER_DECODE_PORT: "0", ...kvstore(), ...deviceBlocks };
    case "router":
      return {
        KVTIER_ROUTER_HOST: LOOPBACK_HOST,
        KVTIER_ROUTER_PORT: "0",
        KVTIER_API_KEYS: Object.entries(opts.apiKeys)
          .map(([key, tenant]) => `${key}=${tenant}`)
          .join(","),
        KVTIER_ALLOW_ANONYMOUS: String(opts.allowAnonymous),
        KVTIER_TENANT_SECRET: opts.tenantSecret,
      };
  }
}

/**
 * The environment of one process, later sources winning: the parent's environment, the stack's
 * shared settings, the service's own settings, then the caller's `env`, `serviceEnv[kind]` and
 * `processEnv[name]`.
 */
export function serviceEnvironment(
  plan: ProcessPlan,
  opts: StackOptionsWithDefaults,
  wiring: StackWiring,
  parent: NodeJS.ProcessEnv = process.env,
): EnvVars {
  const optional = (name: string, value: number | undefined): EnvVars => (value === undefined ? {} : { [name]: String(value) });
  const inherited = Object.fromEntries(Object.entries(parent).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    ...inherited,
    REDIS_URL: wiring.redisUrl,
    NATS_URL: wiring.natsUrl,
    KVTIER_NAMESPACE: opts.namespace,
    KVTIER_SERVICE_TOKEN: opts.serviceToken,
    KVTIER_NODE_ID: LOCAL_NODE_ID,
    KVTIER_METRICS_PORT: "0",
    ...optional("KVTIER_HEARTBEAT_MS", opts.heartbeatMs),
    ...optional("KVTIER_HEARTBEAT_TIMEOUT_MS", opts.heartbeatTimeoutMs),
    ...optional("KVTIER_BLOCK_SIZE", opts.blockSize),
    ...ownSettings(plan, opts, wiring),
    ...opts.env,
    ...opts.serviceEnv[plan.service],
    ...opts.processEnv[plan.name],
  };
}
