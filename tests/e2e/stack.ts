// Starts a real local stack (every service its own process, real Redis, NATS and gRPC) for a test file.
import { startStack, type Stack, type StackOptions } from "@kvtier/local-stack";

export const API_KEYS = { "key-alpha": "alpha", "key-beta": "beta" };

export async function testStack(opts: StackOptions = {}): Promise<Stack> {
  return startStack({
    redisUrl: process.env.REDIS_URL || undefined,
    natsUrl: process.env.NATS_URL || undefined,
    apiKeys: API_KEYS,
    allowAnonymous: false,
    heartbeatMs: 250,
    heartbeatTimeoutMs: 1000,
    ...opts,
    serviceEnv: { ...opts.serviceEnv, router: { KVTIER_LOCAL_PREFILL_MAX_TOKENS: "0", KVTIER_DEBUG_ENDPOINTS: "1", ...opts.serviceEnv?.router } },
  });
}

/** One metric's value (summed over label sets) from a service's /metrics endpoint. */
export async function scrape(metricsPort: number, name: string): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let sum = 0;
  let found = false;
  for (const line of body.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) {
      sum += Number(m[3]);
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name} not exposed on :${metricsPort}`);
  return sum;
}
