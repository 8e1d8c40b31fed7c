// Redis connection ownership. BullMQ needs `maxRetriesPerRequest: null` on its connections.
import { Redis } from "ioredis";

export { Redis };

/** A Redis connection suitable for BullMQ and for plain commands. */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
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
