// Redis SET/GET of the same blocks through ioredis, against the running Redis: the C server's
// figure for moving the same bytes over the same loopback, `depth` commands in flight.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { WorkingSet } from "./store-bench-blocks.js";
import { CpuMeter } from "./store-bench-cpu.js";
import { measureOps, type Figure } from "./store-bench-measure.js";

/** SET then GET every block of the working set, in rounds, until `totalBytes` each; keys removed after. */
export async function measureRedis(
  url: string,
  ws: WorkingSet,
  totalBytes: number,
  depth: number,
): Promise<{ set: Figure; get: Figure } | { unavailable: string }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    return { unavailable: `no Redis at ${url}: ${(err as Error).message}` };
  }
  const prefix = `kvtier-bench:${randomUUID()}:`;
  // The server's pid (INFO server), so its CPU time can be counted when it runs on this machine.
  const pid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]) || undefined;
  const cpu = new CpuMeter(pid);
  const key = (i: number): string => `${prefix}${i % ws.blocks.length}`;
  try {
    const set = await measureOps({
      totalBytes,
      opBytes: ws.blockBytes,
      depth,
      cpu,
      op: async (i) => {
        await redis.set(
          key(i),
          Buffer.from(ws.blocks[i % ws.blocks.length].buffer, ws.blocks[i % ws.blocks.length].byteOffset, ws.blockBytes),
        );
      },
    });
    const get = await measureOps({
      totalBytes,
      opBytes: ws.blockBytes,
      depth,
      cpu,
      op: async (i) => {
        const v = await redis.getBuffer(key(i));
        if (!v || v.length !== ws.blockBytes) throw new Error(`redis GET ${key(i)} returned ${v?.length ?? "nothing"}`);
      },
    });
    return { set, get };
  } finally {
    for (let i = 0; i < ws.blocks.length; i += 1000)
      await redis.del(...Array.from({ length: Math.min(1000, ws.blocks.length - i) }, (_v, j) => key(i + j)));
    redis.disconnect();
  }
}
