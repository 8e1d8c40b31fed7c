// Starting a whole kvtier stack on this machine: Redis and NATS (given or started), then the
// kvstore, the workers that need its endpoint, and the router last, each awaited by its ready line.
import { mkdirSync } from "node:fs";
import { LOOPBACK_HOST } from "./free-port.js";
import { LocalStackError } from "./local-stack-error.js";
import type { ManagedServer } from "./managed-server.js";
import { startNats } from "./nats-server.js";
import { startRedis } from "./redis-server.js";
import type { ProcessPlan, StackWiring } from "./service-env.js";
import type { ServiceHandle } from "./service-process.js";
import { LocalStack, launchProcess, routerName, stopAll, type Stack } from "./stack.js";
import { stackOptionsWithDefaults, type StackOptions } from "./stack-options.js";

/**
 * Start kvstore, prefill and decode workers, and the router, on ephemeral loopback ports in a fresh
 * namespace. Resolves once every process printed its ready line. If anything fails (a missing
 * binary, a process that exits or hangs before ready), everything started so far is stopped and
 * the error, which names the process and shows the tail of its output, is thrown.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const opts = stackOptionsWithDefaults(options);
  mkdirSync(opts.logDir, { recursive: true });
  const owned: ManagedServer[] = [];
  const handles: ServiceHandle[] = [];
  const launch = (plans: ProcessPlan[], wiring: StackWiring): Promise<ServiceHandle[]> =>
    settleAll(
      plans.map((plan) => launchProcess(plan, opts, wiring)),
      (h) => handles.push(h),
    );
  try {
    const servers = await settleAll(
      [opts.redisUrl ? undefined : startRedis(), opts.natsUrl ? undefined : startNats()],
      (s) => s && owned.push(s),
    );
    const redisUrl = opts.redisUrl ?? (servers[0] as ManagedServer).url;
    const natsUrl = opts.natsUrl ?? (servers[1] as ManagedServer).url;
    const [kvstore] = await launch([{ service: "kvstore", name: "kvstore-1" }], { redisUrl, natsUrl });
    const wiring = { redisUrl, natsUrl, kvstore: { id: kvstore.info.id, endpoint: `${LOOPBACK_HOST}:${portOf(kvstore)}` } };
    await launch([...workerPlans("decode", opts.decodeWorkers), ...workerPlans("prefill", opts.prefillWorkers)], wiring);
    const [router] = await launch(
      Array.from({ length: opts.routers }, (_, i) => ({ service: "router" as const, name: routerName(i + 1) })),
      wiring,
    );
    const [redis, nats] = servers as (ManagedServer | undefined)[];
    return new LocalStack(opts, wiring, `${LOOPBACK_HOST}:${portOf(router)}`, handles, owned, { redis, nats });
  } catch (err) {
    await stopAll(handles, owned, opts.stopGraceMs);
    throw err;
  }
}

/**
 * Like Promise.all, but waits for every promise and hands each value to `keep` in input order
 * before throwing the first failure, so that nothing started is left untracked.
 */
async function settleAll<T>(promises: (T | Promise<T>)[], keep: (value: T) => void): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === "fulfilled") keep(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function portOf(handle: ServiceHandle): number {
  const { port, name, ready } = handle.info;
  if (port === undefined)
    throw new LocalStackError("BAD_READY_LINE", `${name}'s ready line has no "port": ${JSON.stringify(ready)}`, {
      process: name,
      logFile: handle.info.logFile,
    });
  return port;
}

const workerPlans = (service: "prefill" | "decode", n: number): ProcessPlan[] =>
  Array.from({ length: n }, (_, i) => ({ service, name: `${service}-${i + 1}` }));
