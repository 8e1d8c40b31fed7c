// A running local stack: the services in start order, the Redis and NATS it uses, and the one
// way to take it down. It owns the servers it started; stop() is idempotent.
import { LOOPBACK_HOST } from "./free-port.js";
import { LocalStackError } from "./local-stack-error.js";
import type { ManagedServer } from "./managed-server.js";
import { serviceEnvironment, type ProcessPlan, type StackWiring } from "./service-env.js";
import { launchService, type ServiceHandle, type StackProcess } from "./service-process.js";
import type { EnvVars, ServiceKind, StackOptionsWithDefaults } from "./stack-options.js";

/** A worker kind that can be added to a running stack. */
export type WorkerKind = Extract<ServiceKind, "prefill" | "decode">;

/** Layers stopped one after the other, first to last; the processes of one layer stop together. */
const STOP_LAYERS: readonly (readonly ServiceKind[])[] = [["router"], ["decode", "prefill"], ["kvstore"]];

/** What {@link startStack} returns. */
export interface Stack {
  /** `127.0.0.1:<port>` of the (first) router's KvTierService. */
  readonly routerAddress: string;
  /** `127.0.0.1:<port>` of every router started, in start order (killed ones stay listed). */
  readonly routerAddresses: readonly string[];
  /** `127.0.0.1:<port>` of the kvstore's KvStoreService. */
  readonly kvstoreEndpoint: string;
  readonly namespace: string;
  /** The stack's service credential (KVTIER_SERVICE_TOKEN of every process): internal endpoints require it. */
  readonly serviceToken: string;
  readonly redisUrl: string;
  readonly natsUrl: string;
  /** Every process started, in start order (killed ones stay listed; see `exited`). */
  readonly processes: readonly StackProcess[];
  /** One `<name>.log` per process. */
  readonly logDir: string;
  /** The process named `name` (e.g. "decode-1"); throws when there is none. */
  process(name: string): StackProcess;
  /** Send `signal` to one process (default SIGKILL, a crash); resolves with its exit code. */
  kill(name: string, signal?: NodeJS.Signals): Promise<number | null>;
  /**
   * Crash the Redis or NATS server the stack started (SIGKILL), keep it down `downMs` and start it
   * again on the same port (Redis comes back empty). Throws when the stack uses a server it was given.
   */
  restartServer(server: "redis" | "nats", downMs: number): Promise<void>;
  /** Start one more worker of `service` (named `<service>-<n+1>`), with extra environment. */
  addWorker(service: WorkerKind, env?: EnvVars): Promise<StackProcess>;
  /** Start one more router replica (named `router-<n+1>`), with extra environment. */
  addRouter(env?: EnvVars): Promise<StackProcess>;
  /** SIGTERM every process in reverse start order (SIGKILL after a grace), then the owned servers. Idempotent. */
  stop(): Promise<void>;
}

/** The Stack implementation; built by startStack once every process is ready. */
export class LocalStack implements Stack {
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly opts: StackOptionsWithDefaults,
    private readonly wiring: Required<StackWiring>,
    readonly routerAddress: string,
    private readonly handles: ServiceHandle[],
    private readonly ownedServers: ManagedServer[],
    private readonly owned: { redis?: ManagedServer; nats?: ManagedServer },
  ) {}

  get routerAddresses(): readonly string[] {
    return this.handles.filter((h) => h.info.service === "router").map((h) => `${LOOPBACK_HOST}:${h.info.port}`);
  }
  get kvstoreEndpoint(): string {
    return this.wiring.kvstore.endpoint;
  }
  get namespace(): string {
    return this.opts.namespace;
  }
  get serviceToken(): string {
    return this.opts.serviceToken;
  }
  get redisUrl(): string {
    return this.wiring.redisUrl;
  }
  get natsUrl(): string {
    return this.wiring.natsUrl;
  }
  get processes(): readonly StackProcess[] {
    return this.handles.map((h) => h.info);
  }
  get logDir(): string {
    return this.opts.logDir;
  }

  process(name: string): StackProcess {
    return this.handle(name).info;
  }

  kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    const handle = this.handle(name);
    handle.signal(signal);
    return handle.info.exited;
  }

  async restartServer(server: "redis" | "nats", downMs: number): Promise<void> {
    const managed = this.owned[server];
    if (managed === undefined)
      throw new LocalStackError(
        "BAD_OPTION",
        `restartServer(${server}): the stack was given its ${server} (it restarts only servers it started)`,
      );
    if (this.stopping) throw new LocalStackError("BAD_OPTION", `restartServer(${server}): the stack is stopping`);
    await managed.restart(downMs);
  }

  async addWorker(service: WorkerKind, env: EnvVars = {}): Promise<StackProcess> {
    if (this.stopping) throw new LocalStackError("BAD_OPTION", `addWorker(${service}): the stack is stopping`);
    const name = `${service}-${this.handles.filter((h) => h.info.service === service).length + 1}`;
    const handle = await launchProcess({ service, name }, this.opts, this.wiring, env);
    this.handles.push(handle);
    return handle.info;
  }

  async addRouter(env: EnvVars = {}): Promise<StackProcess> {
    if (this.stopping) throw new LocalStackError("BAD_OPTION", "addRouter(): the stack is stopping");
    const name = routerName(this.handles.filter((h) => h.info.service === "router").length + 1);
    const handle = await launchProcess({ service: "router", name }, this.opts, this.wiring, env);
    this.handles.push(handle);
    return handle.info;
  }

  stop(): Promise<void> {
    this.stopping ??= stopAll(this.handles, this.ownedServers, this.opts.stopGraceMs);
    return this.stopping;
  }

  private handle(name: string): ServiceHandle {
    const found = this.handles.find((h) => h.info.name === name);
    if (found === undefined)
      throw new LocalStackError("BAD_OPTION", `no process named "${name}" (have: ${this.handles.map((h) => h.info.name).join(", ")})`);
    return found;
  }
}

/** Name of the n-th router (1-based): "router", then "router-2", "router-3", ... */
export const routerName = (n: number): string => (n === 1 ? "router" : `router-${n}`);

/** Launch one planned process of the stack with its environment (plus `extraEnv`, which wins). */
export function launchProcess(
  plan: ProcessPlan,
  opts: StackOptionsWithDefaults,
  wiring: StackWiring,
  extraEnv: EnvVars = {},
): Promise<ServiceHandle> {
  return launchService({
    plan,
    repoRoot: opts.repoRoot,
    env: { ...serviceEnvironment(plan, opts, wiring), ...extraEnv },
    logDir: opts.logDir,
    readyTimeoutMs: opts.readyTimeoutMs,
    echo: opts.echo,
  });
}

/** Stop services layer by layer (router, workers, kvstore), then the owned servers (NATS, Redis). */
export async function stopAll(handles: readonly ServiceHandle[], ownedServers: readonly ManagedServer[], graceMs: number): Promise<void> {
  for (const layer of STOP_LAYERS) {
    await Promise.all(handles.filter((h) => layer.includes(h.info.service)).map((h) => h.stop(graceMs)));
  }
  for (const server of [...ownedServers].reverse()) await server.stop();
}
