// KvStoreClient against the real kvstore process (services/kvstore/dist/main.js; `pnpm build`
// first) over each data path. Faults are injected by a TCP proxy in front of the real store that
// flips one byte in transit, never by a stand-in store: the client must refuse the block it
// receives (and the store the block it receives), count it and never hand it out.
import { randomBytes, randomUUID } from "node:crypto";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { FRAME_HEADER_BYTES } from "@kvtier/kv-transport";
import { encodeKvBlock, readKvBlockHeader } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvtierError } from "../src/errors.js";
import { KvStoreClient } from "../src/kvstore-client.js";
import { ServiceToken } from "../src/service-token.js";
import { startCorruptingProxy } from "./support/corrupting-proxy.js";
import { metric, startKvStore, type KvStore } from "./support/kvstore-process.js";

const NS = `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const PATHS = ["grpc", "tcp", "shm"] as const;

/** An fp32 block of 16 tokens: `layers` x 256 KiB of K/V (16 KV heads x 128 dims) + 112 bytes. */
function makeBlock(seed: number, layers = 2, blockSize = 16): Uint8Array {
  const shape = {
    modelId: "m",
    codec: "fp32",
    nLayers: layers,
    nKvHeads: 16,
    headDim: 128,
    tokens: 16,
    blockSize,
    blockHash: new Uint8Array(randomBytes(16)),
  };
  const n = layers * 16 * 16 * 128;
  const k = Float32Array.from({ length: n }, (_v, i) => Math.sin(seed + i));
  return encodeKvBlock(
    shape,
    k,
    k.map((x) => -x),
  );
}
const hashOf = (b: Uint8Array): Uint8Array => readKvBlockHeader(b).blockHash;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);
/** Bytes of the AUTH frame a fast-path connection starts with (header and the token). */
const authFrameBytes = (): number => FRAME_HEADER_BYTES + store.token.bytes().length;

async function rejection(p: Promise<unknown>): Promise<KvtierError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvtierError);
  return err as KvtierError;
}

let store: KvStore;
beforeAll(async () => {
  store = await startKvStore({
    KVTIER_NAMESPACE: NS,
    KVTIER_KVSTORE_ID: "kvs-client-test",
    KVTIER_HOST_CAPACITY_BYTES: String(64 * 1024 * 1024),
  });
});
afterAll(async () => {
  if (store) expect(await store.stop()).toBe(0);
});

describe.each(PATHS)("KvStoreClient over %s", (path) => {
  it("uses that path and round-trips runs byte for byte, stopping at the first block not held", async () => {
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: [path] });
    expect(await client.dataPath()).toBe(path);
    const chain = [makeBlock(1, 10), makeBlock(2), makeBlock(3), makeBlock(4, 3)]; // the first is 2.5 MiB: several gRPC chunks
    const put = await client.putRun(chain);
    expect(put).toEqual(chain.map(() => ({ created: true })));
    expect(await client.put(chain[1])).toEqual({ created: false });
    const run = await client.getRun([...chain.slice(0, 3).map(hashOf), new Uint8Array(16), hashOf(chain[3])], "fp32");
    expect(run.corrupt).toBe(0);
    expect(run.blocks.map((b, i) => same(b, chain[i]))).toEqual([true, true, true]);
    expect(run.bytes).toBe(chain.slice(0, 3).reduce((n, b) => n + b.length, 0));
    expect(await client.getRun([], "fp32")).toEqual({ blocks: [], bytes: 0, corrupt: 0 });
    expect(client.stats().bytesReceived[path]).toBe(run.bytes);
    await client.close();
  });

  it("maps the store's refusals to KvtierError with their code and field, per block", async () => {
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: [path] });
    const malformed = await rejection(client.put(new Uint8Array(200)));
    expect([malformed.code, malformed.field]).toEqual(["INVALID_ARGUMENT", "block"]);
    const a = makeBlock(10);
    const conflicting = makeBlock(11);
    conflicting.set(hashOf(a), 32); // a's hash on other bytes: its CRC no longer matches
    const [ok, bad] = await client.putRun([a, conflicting]);
    expect(ok).toEqual({ created: true });
    expect([bad.error?.code, bad.error?.field]).toEqual(["INVALID_ARGUMENT", "block.checksum"]);
    const layout = await rejection(client.put(makeBlock(12, 2, 32))); // this deployment uses 16 tokens per block
    expect([layout.code, layout.field]).toEqual(["INVALID_ARGUMENT", "block.block_size"]);
    const unknownCodec = await rejection(client.getRun([hashOf(a)], "no-such-codec"));
    expect([unknownCodec.code, unknownCodec.field]).toEqual(["INVALID_ARGUMENT", "codec"]);
    await client.close();
  });
});

describe("KvStoreClient receive-side verification through a corrupting proxy", () => {
  it("TCP fast path: a payload byte flipped on its way to the client ends the run there, is counted and never returned", async () => {
    const chain = [makeBlock(21), makeBlock(22), makeBlock(23)];
    const writer = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["tcp"] });
    await writer.putRun(chain);
    await writer.close();
    // The answer is a 32-byte header, 5 bytes of metadata per block, then the blocks: flip inside the second.
    const proxy = await startCorruptingProxy(
      { host: "127.0.0.1", port: store.fastPort },
      "to-client",
      FRAME_HEADER_BYTES + FRAME_HEADER_BYTES + 3 * 5 + chain[0].length + 500,
    ); // after the AUTH_OK frame
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["tcp"], fastEndpoint: proxy.endpoint });
    const run = await client.getRun(chain.map(hashOf), "fp32");
    expect(proxy.flipped).toBe(true);
    expect(run.blocks).toHaveLength(1);
    expect(same(run.blocks[0], chain[0])).toBe(true);
    expect(run.corrupt).toBe(1);
    expect(client.stats().corruptBlocks).toBe(1);
    await client.close();
    await proxy.close();
  });

  it("TCP fast path: a byte flipped on its way to the store is refused there (checksum), counted, and not stored", async () => {
    const before = await metric(store, "kvtier_kvstore_checksum_failures_total", { stage: "receive" });
    const [a, b] = [makeBlock(31), makeBlock(32)];
    const proxy = await startCorruptingProxy(
      { host: "127.0.0.1", port: store.fastPort },
      "to-server",
      authFrameBytes() + FRAME_HEADER_BYTES + (1 + 4) + 2 * 16 + 2 * 4 + a.length + 700,
    );
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["tcp"], fastEndpoint: proxy.endpoint });
    const [ra, rb] = await client.putRun([a, b]);
    expect(proxy.flipped).toBe(true);
    expect(ra).toEqual({ created: true });
    expect([rb.error?.code, rb.error?.field]).toEqual(["INVALID_ARGUMENT", "block.checksum"]);
    expect(await metric(store, "kvtier_kvstore_checksum_failures_total", { stage: "receive" })).toBe(before + 1);
    expect(await client.lookup([hashOf(a), hashOf(b)], "fp32")).toBe(1);
    await client.close();
    await proxy.close();
  });

  it("TCP fast path: a flipped byte in an answer's header is the store's fault: the call goes on over gRPC", async () => {
    const chain = [makeBlock(61), makeBlock(62)];
    const writer = new KvStoreClient(store.endpoint, { serviceToken: store.token });
    await writer.putRun(chain);
    await writer.close();
    const proxy = await startCorruptingProxy({ host: "127.0.0.1", port: store.fastPort }, "to-client", FRAME_HEADER_BYTES + 13); // the answer's count (after the AUTH_OK frame)
    const reasons: string[] = [];
    const client = new KvStoreClient(store.endpoint, {
      serviceToken: store.token,
      dataPaths: ["tcp", "grpc"],
      fastEndpoint: proxy.endpoint,
      onFallback: (p, why) => reasons.push(`${p}: ${why}`),
    });
    const run = await client.getRun(chain.map(hashOf), "fp32");
    expect(proxy.flipped).toBe(true);
    expect([run.blocks.length, run.corrupt]).toEqual([2, 0]);
    expect(run.blocks.every((b, i) => same(b, chain[i]))).toBe(true);
    expect(client.stats().path).toBe("grpc");
    expect(reasons[0]).toMatch(/^tcp: connection lost during get: .*header checksum/);
    await client.close();
    await proxy.close();
  });

  it("gRPC path: a byte flipped inside a streamed block ends the run there and is counted", async () => {
    const chain = [makeBlock(41, 10), makeBlock(42)];
    const writer = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["grpc"] });
    await writer.putRun(chain);
    await writer.close();
    const port = Number(store.endpoint.split(":")[1]);
    const proxy = await startCorruptingProxy({ host: "127.0.0.1", port }, "to-client", 1_500_000); // inside the 2.5 MiB first block
    const client = new KvStoreClient(proxy.endpoint, { serviceToken: store.token, dataPaths: ["grpc"] });
    const run = await client.getRun(chain.map(hashOf), "fp32");
    expect(proxy.flipped).toBe(true);
    expect([run.blocks.length, run.corrupt]).toEqual([0, 1]);
    await client.close();
    await proxy.close();
  });
});

describe("KvStoreClient control plane", () => {
  it("passes lookup, delete and info through", async () => {
    const client = new KvStoreClient(store.endpoint, { serviceToken: store.token });
    const [a, b] = [makeBlock(51), makeBlock(52)];
    await client.putRun([a, b]);
    expect(await client.lookup([hashOf(a), hashOf(b), new Uint8Array(16)], "fp32")).toBe(2);
    expect(await client.delete([hashOf(a), new Uint8Array(16)], "fp32")).toBe(1);
    const info = await client.info();
    expect(info.storeId).toBe("kvs-client-test");
    expect(info.capacityBytes).toBe(64 * 1024 * 1024);
    const badHash = await rejection(client.lookup([new Uint8Array(3)], "fp32"));
    expect([badHash.code, badHash.field]).toEqual(["INVALID_ARGUMENT", "block_hashes[0]"]);
    await client.close();
  });

  it("reports an unreachable store as UNAVAILABLE or DEADLINE_EXCEEDED, and closes idempotently", async () => {
    const probe = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      probe.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    probe.forceShutdown(); // nothing listens there now
    const client = new KvStoreClient(`127.0.0.1:${port}`, { serviceToken: ServiceToken.generate(), deadlineMs: 2_000 });
    const err = await rejection(client.info());
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(err.code);
    const get = await rejection(client.getRun([new Uint8Array(16)], "fp32"));
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(get.code);
    await client.close();
    await client.close();
    const closed = await rejection(client.lookup([], "fp32"));
    expect(closed.code).toBe("FAILED_PRECONDITION");
  });
});
