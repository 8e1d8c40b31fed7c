// The kvstore side of `pnpm bench store`: the real kvstore process (its own process, as in
// production) and KvStoreClient put/get of runs over one data path at a time. Puts go in rounds
// over the working set, each round after deleting it (untimed), so every timed put stores.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { KvStoreClient, ServiceToken, type DataPathName } from "@kvtier/platform";
import type { WorkingSet } from "./store-bench-blocks.js";
import { CpuMeter } from "./store-bench-cpu.js";
import { measureOps, type Figure } from "./store-bench-measure.js";

const KVSTORE_MAIN = fileURLToPath(new URL("../../../services/kvstore/dist/main.js", import.meta.url));
/** Most hashes one Delete may carry. */
const DELETE_BATCH = 16_384;

/** A kvstore process started for the benchmark. */
export class BenchKvStore {
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    readonly metricsPort: number,
    /** The service credential the store was started with. */
    readonly serviceToken: ServiceToken,
  ) {}

  /** Start dist/main.js with `env` (ports ephemeral); `nodeArgs` e.g. --cpu-prof. */
  static async start(env: Record<string, string>, nodeArgs: string[] = []): Promise<BenchKvStore> {
    const token = ServiceToken.generate();
    const child = spawn(process.execPath, [...nodeArgs, KVSTORE_MAIN], {
      env: {
        ...process.env,
        KVTIER_SERVICE_TOKEN: token.value,
        KVTIER_KVSTORE_PORT: "0",
        KVTIER_KVSTORE_FAST_PORT: "0",
        KVTIER_METRICS_PORT: "0",
        KVTIER_LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    process.once("exit", () => child.kill("SIGKILL")); // never leave a store behind a crashed bench
    const ready = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (line.includes('"ready"')) resolve(JSON.parse(line) as { port: number; metricsPort: number });
      });
      child.once("exit", (code) => reject(new Error(`kvstore exited with ${code} before it was ready`)));
    });
    return new BenchKvStore(child, `127.0.0.1:${ready.port}`, ready.metricsPort, token);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill("SIGTERM");
    await once(this.child, "exit");
  }
}

/** What one path measured, or why it could not be. */
export type PathFigures = { put: Figure; get: Figure } | { unavailable: string };

/** Put then get the working set over `path` until `totalBytes` each, `depth` runs of `runBlocks` in flight. */
export async function measurePath(
  store: BenchKvStore,
  path: DataPathName,
  ws: WorkingSet,
  totalBytes: number,
  runBlocks: number,
  depth: number,
): Promise<PathFigures> {
  const cpu = new CpuMeter(store.pid);
  const client = new KvStoreClient(store.endpoint, { serviceToken: store.serviceToken, dataPaths: [path] });
  try {
    const got = await client.dataPath();
    if (got !== path) return { unavailable: `the client could not use ${path} (got ${got})` };
    const runs = Math.ceil(ws.blocks.length / runBlocks);
    const runOf = (i: number): [number, number] => {
      const r = i % runs;
      return [r * runBlocks, Math.min(ws.blocks.length, (r + 1) * runBlocks)];
    };
    const opBytes = runBlocks * ws.blockBytes;
    const put = await measureOps({
      totalBytes,
      opBytes,
      depth,
      roundOps: runs,
      cpu,
      beforeRound: async () => {
        for (let i = 0; i < ws.hashes.length; i += DELETE_BATCH) await client.delete(ws.hashes.slice(i, i + DELETE_BATCH), "fp32");
      },
      op: async (i) => {
        const [a, b] = runOf(i);
        const res = await client.putRun(ws.blocks.slice(a, b));
        const bad = res.find((r) => r.error || !r.created);
        if (bad) throw new Error(`put over ${path} did not store: ${bad.error?.message ?? "already there"}`);
      },
    });
    const get = await measureOps({
      totalBytes,
      opBytes,
      depth,
      cpu,
      op: async (i) => {
        const [a, b] = runOf(i);
        const run = await client.getRun(ws.hashes.slice(a, b), "fp32");
        if (run.blocks.length !== b - a)
          throw new Error(`get over ${path} returned ${run.blocks.length} of ${b - a} blocks (corrupt ${run.corrupt})`);
      },
    });
    for (let i = 0; i < ws.hashes.length; i += DELETE_BATCH) await client.delete(ws.hashes.slice(i, i + DELETE_BATCH), "fp32");
    return { put, get };
  } finally {
    await client.close();
  }
}
