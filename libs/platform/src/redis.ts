// Redis connection ownership. Two kinds: a BullMQ worker's connection waits out an outage
// (BullMQ needs `maxRetriesPerRequest: null` there), and every other connection fails fast, so a
// request never waits on Redis longer than REDIS_COMMAND_TIMEOUT_MS and a command refused during
// an outage is never sent later (a late HSETNX would mark a failed request's id as used).
import { Redis } from "ioredis";

export { Redis };

/** Longest a command on a fail-fast connection may take, in ms. */
const REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** How long a service waits at start for Redis to answer, in ms. */
const REDIS_READY_TIMEOUT_MS = 30_000;

/** What a connection is for. */
export type RedisRole = "fail-fast" | "queue-worker";

/**
 * A Redis connection. `fail-fast` (registry, request state, queue producers): while Redis is
 * unreachable every command is refused at once, and none takes longer than
 * REDIS_COMMAND_TIMEOUT_MS; await {@link redisReady} before the first command. `queue-worker`
 * (a BullMQ Worker's): commands wait for the connection to come back.
 */
export function connectRedis(url: string, name: string, role: RedisRole = "fail-fast"): Redis {
  const r =
    role === "queue-worker"
      ? new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false })
      : new Redis(url, {
          connectionName: name,
          lazyConnect: false,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
        });
  // connection errors repeat while it reconnects; the commands they fail are where they are reported
  r.on("error", () => undefined);
  return r;
}

/** Resolves once `r` is connected and ready; rejects after `timeoutMs` saying where it tried. */
export function redisReady(r: Redis, timeoutMs = REDIS_READY_TIMEOUT_MS): Promise<void> {
  if (r.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      r.off("ready", onReady);
      reject(new Error(`Redis at ${r.options.host}:${r.options.port} not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    r.once("ready", onReady);
  });
}

/** Quit gracefully; idempotent. */
export async function closeRedis(r: Redis | undefined): Promise<void> {
  if (!r || r.status === "end") return;
  try {
    await r.quit();
  } catch {
    r.disconnect();
  }
}
