// The fast data paths of the real kvstore process, through KvStoreClient: TCP and shared-memory
// round trips byte for byte (runs, and runs longer than an arena slot), bytes counted per path,
// the shared-memory arena removed on close and when its client dies, and the client falling back
// to TCP, then gRPC, when a faster path is not available.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { KvStoreClient, type DataPathName } from "@kvtier/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneOf, filesWithPrefix } from "./data-plane-support.js";
import { hashOf, makeBlock, makeLargeBlock } from "../../../libs/kv-tiers/test/support/blocks.js";
import { sample, scrapeMetrics, startKvStore, type KvStoreProcess } from "./support/kvstore-process.js";

const NS = `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const ARENAS = `kvtier-${NS}-`;
let store: KvStoreProcess;

beforeAll(async () => {
  store = await startKvStore({
    KVTIER_NAMESPACE: NS,
    KVTIER_KVSTORE_ID: "kvs-paths",
    KVTIER_HOST_CAPACITY_BYTES: String(128 * 1024 * 1024),
  });
});
afterAll(async () => {
  if (store) expect(await store.stop()).toBe(0);
  expect(filesWithPrefix(`kvtier-${NS}`)).toEqual([]); // arenas and the probe are gone
});

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);
const sum = (bs: Uint8Array[]): number => bs.reduce((n, b) => n + b.length, 0);

describe("fast data paths of the real kvstore", () => {
  it("announces a TCP port and a shared-memory dir, and a co-located client picks shared memory", async () => {
    const dp = await dataPlaneOf(store);
    expect(dp.fastPort).toBeGreaterThan(0);
    expect([dp.shmDir, dp.shmPrefix, dp.nodeId]).toEqual(["/dev/shm", ARENAS, "node-1"]);
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, nodeId: "node-1" });
    expect(await client.dataPath()).toBe("shm");
    await client.close();
  });

  for (const path of ["tcp", "shm"] as const) {
    it(`${path}: runs round-trip byte for byte and every byte is counted on path="${path}", none on grpc`, async () => {
      const before = await scrapeMetrics(store);
      const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: [path] });
      const chain = [makeLargeBlock(1), makeBlock({ seed: 2 }), makeBlock({ seed: 3, tokens: 5 }), makeLargeBlock(4)];
      expect((await client.putRun(chain)).map((r) => r.created)).toEqual([true, true, true, true]);
      const run = await client.getRun([...chain.map(hashOf), new Uint8Array(16)], "fp32");
      expect([run.blocks.length, run.corrupt, run.bytes]).toEqual([4, 0, sum(chain)]);
      expect(run.blocks.every((b, i) => same(b, chain[i]))).toBe(true);
      const gap = await client.getRun([hashOf(chain[0]), new Uint8Array(16), hashOf(chain[2])], "fp32");
      expect(gap.blocks.length).toBe(1);
      await client.close();
      const after = await scrapeMetrics(store);
      const delta = (name: string, p: DataPathName): number =>
        (sample(after, name, { tier: "host", path: p }) ?? 0) - (sample(before, name, { tier: "host", path: p }) ?? 0);
      expect(delta("kvtier_kvstore_written_bytes_total", path)).toBe(sum(chain));
      expect(delta("kvtier_kvstore_read_bytes_total", path)).toBe(sum(chain) + chain[0].length);
      expect(delta("kvtier_kvstore_read_bytes_total", "grpc")).toBe(0);
      expect(delta("kvtier_kvstore_written_bytes_total", "grpc")).toBe(0);
      expect(sample(after, "kvtier_kvstore_data_requests_total", { path, op: "get" })).toBeGreaterThanOrEqual(2);
    });
  }

  it("shm: a run larger than an arena slot comes back whole, asked for in slot-sized parts", async () => {
    const client = new KvStoreClient(store.endpoint, {
      serviceToken: store.token,
      dataPaths: ["shm"],
      shm: { slotBytes: 5 * 1024 * 1024, slots: 2 },
    });
    const chain = Array.from({ length: 7 }, (_v, i) => makeLargeBlock(100 + i)); // 2 MiB each: 2 per slot
    expect((await client.putRun(chain)).every((r) => r.created && !r.error)).toBe(true);
    const [a, b] = await Promise.all([client.getRun(chain.map(hashOf), "fp32"), client.getRun(chain.slice(2).map(hashOf), "fp32")]);
    expect(a.blocks.length).toBe(7);
    expect(a.blocks.every((x, i) => same(x, chain[i]))).toBe(true);
    expect(b.blocks.every((x, i) => same(x, chain[i + 2]))).toBe(true);
    await client.close();
  });

  it("shm: the arena file exists while the client is open and is removed by close()", async () => {
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["shm"] });
    expect(await client.dataPath()).toBe("shm");
    const mine = filesWithPrefix(`${ARENAS}${process.pid}-`);
    expect(mine).toHaveLength(1);
    await client.close();
    expect(existsSync(join("/dev/shm", mine[0]))).toBe(false);
  });

  it("shm: the store removes the arena of a client that was killed", async () => {
    const script = `
      import { KvStoreClient, ServiceToken } from "@kvtier/platform";
      const c = new KvStoreClient(${JSON.stringify(store.endpoint)}, { serviceToken: new ServiceToken(${JSON.stringify(store.token.value)}), dataPaths: ["shm"] });
      console.log(await c.dataPath());
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: join(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    const said = await new Promise<string>((resolve) => child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())));
    expect(said).toBe("shm");
    const arena = filesWithPrefix(`${ARENAS}${child.pid}-`);
    expect(arena).toHaveLength(1);
    child.kill("SIGKILL");
    // The store notices the closed connection and removes the file; wait for that, boundedly.
    for (let i = 0; i < 100 && existsSync(join("/dev/shm", arena[0])); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join("/dev/shm", arena[0]))).toBe(false);
  });
});

describe("falling back to a slower path", () => {
  const roundTrip = async (client: KvStoreClient): Promise<void> => {
    const b = makeBlock({ seed: 77 });
    await client.put(b);
    const run = await client.getRun([hashOf(b)], "fp32");
    expect(same(run.blocks[0], b)).toBe(true);
  };

  it("uses TCP when the store is on another node, or its probe cannot be read here", async () => {
    const reasons: string[] = [];
    const other = new KvStoreClient(store.endpoint, {
      serviceToken: store.token,
      nodeId: "node-2",
      onFallback: (p, why) => reasons.push(`${p}: ${why}`),
    });
    expect(await other.dataPath()).toBe("tcp");
    await roundTrip(other);
    await other.close();
    expect(reasons[0]).toMatch(/^shm: store is on node node-1/);

    const dir = mkdtempSync(join(tmpdir(), "kvtier-shm-"));
    const elsewhere = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: "kvs-elsewhere", KVTIER_KVSTORE_SHM_DIR: dir });
    rmSync(dir, { recursive: true }); // as if the store's /dev/shm were not this process's
    const c = new KvStoreClient(elsewhere.endpoint, {
      serviceToken: elsewhere.token,
      onFallback: (p, why) => reasons.push(`${p}: ${why}`),
    });
    expect(await c.dataPath()).toBe("tcp");
    await roundTrip(c);
    await c.close();
    expect(await elsewhere.stop()).toBe(0);
    expect(reasons[1]).toMatch(/^shm: the store's probe is not readable/);
  });

  it("uses TCP when the store offers no shared memory (absent shm dir), and gRPC when it offers no fast path", async () => {
    const noShm = await startKvStore({
      KVTIER_NAMESPACE: NS,
      KVTIER_KVSTORE_ID: "kvs-noshm",
      KVTIER_KVSTORE_SHM_DIR: "/nonexistent/kvtier-shm",
    });
    const a = new KvStoreClient(noShm.endpoint, { serviceToken: noShm.token });
    expect(await a.dataPath()).toBe("tcp");
    await roundTrip(a);
    await a.close();
    expect(noShm.logs()).toContain("no co-located (shared-memory) data path");
    expect(await noShm.stop()).toBe(0);

    const grpcOnly = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: "kvs-grpc", KVTIER_KVSTORE_FAST_PATH: "false" });
    const b = new KvStoreClient(grpcOnly.endpoint, { serviceToken: grpcOnly.token });
    expect(await b.dataPath()).toBe("grpc");
    await roundTrip(b);
    await b.close();
    const page = await scrapeMetrics(grpcOnly);
    expect(sample(page, "kvtier_kvstore_written_bytes_total", { path: "grpc" })).toBeGreaterThan(0);
    expect(await grpcOnly.stop()).toBe(0);
  });

  it("goes on over gRPC when the fast connection breaks mid-use", async () => {
    // A plain forwarder in front of the fast port, closed under the client.
    const fastPort = (await dataPlaneOf(store)).fastPort;
    const links = new Set<Socket>();
    const forwarder = createServer((c) => {
      const up = connect(fastPort, "127.0.0.1");
      for (const s of [c, up]) {
        links.add(s);
        s.on("error", () => s.destroy());
      }
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
    const reasons: string[] = [];
    const client = new KvStoreClient(store.endpoint, {
      serviceToken: store.token,
      fastEndpoint: `127.0.0.1:${(forwarder.address() as AddressInfo).port}`,
      dataPaths: ["tcp", "grpc"],
      onFallback: (p, why) => reasons.push(`${p}: ${why}`),
    });
    const b = makeBlock({ seed: 88 });
    await client.put(b);
    expect(client.stats().path).toBe("tcp");
    forwarder.close();
    for (const s of links) s.destroy();
    const run = await client.getRun([hashOf(b)], "fp32");
    expect(same(run.blocks[0], b)).toBe(true);
    expect(client.stats().path).toBe("grpc");
    expect(reasons[0]).toMatch(/^tcp: connection lost during get/);
    await client.close();
  });
});
