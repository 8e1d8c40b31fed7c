// Starts a real local stack (every service its own process, real Redis, NATS and gRPC) for a test file.
import { credentials } from "@grpc/grpc-js";
import { startStack, type Stack, type StackOptions } from "@kvtier/local-stack";
import { GRPC_OPTIONS, ServiceToken } from "@kvtier/platform";
import { KvStoreServiceClient, type KvTierServiceClient } from "@kvtier/proto";
import { afterAll, beforeAll } from "vitest";
import { routerClient } from "./client.js";

const API_KEYS = { "key-alpha": "alpha", "key-beta": "beta" };

export async function testStack(opts: StackOptions = {}): Promise<Stack> {
  return startStack({
    redisUrl: process.env.REDIS_URL || undefined,
    natsUrl: process.env.NATS_URL || undefined,
    apiKeys: API_KEYS,
    allowAnonymous: false,
    heartbeatMs: 250,
    heartbeatTimeoutMs: 1000,
    ...opts,
    serviceEnv: {
      ...opts.serviceEnv,
      router: { KVTIER_LOCAL_PREFILL_MAX_TOKENS: "0", KVTIER_DEBUG_ENDPOINTS: "1", ...opts.serviceEnv?.router },
    },
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

/** A stack and a client of its router, shared by the tests of one file. */
export interface FileStack {
  readonly stack: Stack;
  readonly client: KvTierServiceClient;
}

/** Start a stack before the file's tests and stop it after them; read the fields inside tests only. */
export function stackForFile(opts: StackOptions = {}): FileStack {
  const held: { stack?: Stack; client?: KvTierServiceClient } = {};
  beforeAll(async () => {
    held.stack = await testStack(opts);
    held.client = routerClient(held.stack.routerAddress);
  });
  afterAll(async () => {
    held.client?.close();
    await held.stack?.stop();
  });
  return {
    get stack() {
      return held.stack!;
    },
    get client() {
      return held.client!;
    },
  };
}

/** A raw client of the stack's kvstore presenting the stack's service credential. */
export function kvstoreClient(stack: Stack): KvStoreServiceClient {
  const token = new ServiceToken(stack.serviceToken);
  return new KvStoreServiceClient(stack.kvstoreEndpoint, credentials.createInsecure(), {
    ...GRPC_OPTIONS,
    interceptors: [token.interceptor()],
  });
}

/** The kvstore's fast port, from its Info. */
export async function kvstoreFastPort(stack: Stack): Promise<number> {
  const c = kvstoreClient(stack);
  try {
    const info = await new Promise<{ dataPlane?: { fastPort: number } }>((resolve, reject) =>
      c.info({}, (err, res) => (err ? reject(err) : resolve(res))),
    );
    return info.dataPlane!.fastPort;
  } finally {
    c.close();
  }
}
