// KvStoreClient against a scripted KvStoreService on a real grpc-js server. The real kvstore
// never serves a corrupt block, so the client's receive-side verification is exercised here with
// a server that does; the kvstore's own tests run this client against the real process.
import { randomBytes } from "node:crypto";
import { Metadata, Server, ServerCredentials, status, type ServerWritableStream } from "@grpc/grpc-js";
import { AckLevel, KvStoreServiceService, Tier, type GetRequest, type GetResponse, type KvStoreServiceServer, type PutHeader, type PutRequest } from "@kvtier/proto";
import { encodeKvBlock, readKvBlockHeader } from "@kvtier/tensor";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KvtierError } from "../src/errors.js";
import { GRPC_OPTIONS, MAX_CHUNK_BYTES } from "../src/grpc.js";
import { KvStoreClient } from "../src/kvstore-client.js";

const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");

function makeBlock(seed: number, layers = 2, hash: Uint8Array = new Uint8Array(randomBytes(16))): Uint8Array {
  const shape = { modelId: "m", codec: "fp32", nLayers: layers, nKvHeads: 16, headDim: 128, tokens: 16, blockSize: 16, blockHash: hash };
  const n = layers * 16 * 16 * 128;
  const k = Float32Array.from({ length: n }, (_v, i) => Math.sin(seed + i));
  return encodeKvBlock(shape, k, k.map((x) => -x));
}
const hashOf = (b: Uint8Array): Uint8Array => readKvBlockHeader(b).blockHash;

/** What the scripted server does; reset after each test. */
interface Script {
  held: Map<string, Uint8Array>;
  /** Replace the bytes served for the block at this position of a run. */
  tamper?: (index: number, bytes: Uint8Array) => Uint8Array;
  /** Stop the stream after this many bytes of the block at `cut.index`. */
  cut?: { index: number; bytes: number };
  /** End every call with this status instead of answering. */
  fail?: { code: number; details: string; field?: string; retryAfterMs?: number };
  puts: { header: PutHeader; chunkSizes: number[] }[];
}
let script: Script = { held: new Map(), puts: [] };

function failure(): { code: number; details: string; metadata: Metadata } | undefined {
  const f = script.fail;
  if (!f) return undefined;
  const metadata = new Metadata();
  if (f.field) metadata.set("kvtier-field", f.field);
  if (f.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(f.retryAfterMs));
  return { code: f.code, details: f.details, metadata };
}

async function serveGet(call: ServerWritableStream<GetRequest, GetResponse>): Promise<void> {
  const f = failure();
  if (f) return void call.emit("error", f);
  for (const [i, h] of call.request.blockHashes.entries()) {
    let bytes = script.held.get(hex(h));
    if (!bytes) break;
    if (script.tamper) bytes = script.tamper(i, bytes);
    call.write({ part: { $case: "header", value: { blockHash: h, totalBytes: bytes.length, tier: Tier.TIER_HOST } } });
    const end = script.cut?.index === i ? script.cut.bytes : bytes.length;
    for (let at = 0; at < end; at += MAX_CHUNK_BYTES) call.write({ part: { $case: "chunk", value: bytes.subarray(at, Math.min(end, at + MAX_CHUNK_BYTES)) } });
    if (end < bytes.length) break;
  }
  call.end();
}

const service: KvStoreServiceServer = {
  put: (call, callback) => {
    const rec: { header: PutHeader; chunkSizes: number[] } = { header: undefined as unknown as PutHeader, chunkSizes: [] };
    const parts: Uint8Array[] = [];
    call.on("data", (m: PutRequest) => {
      if (m.part?.$case === "header") rec.header = m.part.value;
      else if (m.part?.$case === "chunk") {
        rec.chunkSizes.push(m.part.value.length);
        parts.push(m.part.value);
      }
    });
    call.on("end", () => {
      script.puts.push(rec);
      const f = failure();
      if (f) return callback(f);
      const key = hex(rec.header.blockHash);
      const created = !script.held.has(key);
      script.held.set(key, Buffer.concat(parts));
      callback(null, { created, tier: Tier.TIER_HOST });
    });
  },
  get: (call) => void serveGet(call),
  lookup: (call, callback) => {
    let n = 0;
    while (n < call.request.blockHashes.length && script.held.has(hex(call.request.blockHashes[n]))) n++;
    callback(failure() ?? null, { leadingBlocks: n, tiers: new Array<Tier>(n).fill(Tier.TIER_HOST) });
  },
  delete: (call, callback) => callback(null, { deleted: call.request.blockHashes.filter((h) => script.held.delete(hex(h))).length }),
  info: (_call, callback) => callback(null, { storeId: "scripted", incarnation: "inc-1", capacityBytes: 1000, usedBytes: 10, blocks: script.held.size }),
};

let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = new Server(GRPC_OPTIONS);
  server.addService(KvStoreServiceService, service);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  endpoint = `127.0.0.1:${port}`;
});

afterAll(() => server.forceShutdown());
afterEach(() => {
  script = { held: new Map(), puts: [] };
});

async function rejection(p: Promise<unknown>): Promise<KvtierError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvtierError);
  return err as KvtierError;
}

describe("KvStoreClient", () => {
  it("puts a block as a header and chunks of at most MAX_CHUNK_BYTES, with the block's own hash and codec", async () => {
    const client = new KvStoreClient(endpoint);
    const big = makeBlock(1, 4); // 4 MiB + header
    expect(await client.put(big)).toEqual({ created: true });
    expect(await client.put(big, { ack: "durable" })).toEqual({ created: false });
    const [first, second] = script.puts;
    expect(hex(first.header.blockHash)).toBe(hex(hashOf(big)));
    expect(first.header).toMatchObject({ codec: "fp32", totalBytes: big.length, ack: AckLevel.ACK_LEVEL_MEMORY });
    expect(second.header.ack).toBe(AckLevel.ACK_LEVEL_DURABLE);
    expect(first.chunkSizes.length).toBe(Math.ceil(big.length / MAX_CHUNK_BYTES));
    expect(Math.max(...first.chunkSizes)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(first.chunkSizes.reduce((a, b) => a + b, 0)).toBe(big.length);
    expect(Buffer.from(script.held.get(hex(hashOf(big)))!).equals(big)).toBe(true);
    client.close();
  });

  it("refuses a malformed block before calling the store", async () => {
    const client = new KvStoreClient(endpoint);
    const err = await rejection(client.put(new Uint8Array(200)));
    expect([err.code, err.field]).toEqual(["INVALID_ARGUMENT", "block"]);
    expect(script.puts).toHaveLength(0);
    client.close();
  });

  it("returns the leading run, reassembled and verified", async () => {
    const client = new KvStoreClient(endpoint);
    const chain = [makeBlock(1, 3), makeBlock(2), makeBlock(3)];
    for (const b of chain) script.held.set(hex(hashOf(b)), b);
    const run = await client.getRun([...chain.map(hashOf), new Uint8Array(16)], "fp32");
    expect(run.corrupt).toBe(0);
    expect(run.blocks.map((b, i) => Buffer.from(b).equals(chain[i]))).toEqual([true, true, true]);
    expect(run.bytes).toBe(chain.reduce((n, b) => n + b.length, 0));
    expect(await client.getRun([], "fp32")).toEqual({ blocks: [], bytes: 0, corrupt: 0 });
    client.close();
  });

  it("ends the run at a corrupt block, counts it and never returns it", async () => {
    const client = new KvStoreClient(endpoint);
    const chain = [makeBlock(1), makeBlock(2), makeBlock(3)];
    for (const b of chain) script.held.set(hex(hashOf(b)), b);
    script.tamper = (i, bytes) => {
      if (i !== 1) return bytes;
      const bad = Uint8Array.from(bytes);
      bad[500] ^= 1;
      return bad;
    };
    const run = await client.getRun(chain.map(hashOf), "fp32");
    expect(run.blocks).toHaveLength(1);
    expect(Buffer.from(run.blocks[0]).equals(chain[0])).toBe(true);
    expect(run.corrupt).toBe(1);
    expect(run.bytes).toBe(chain[0].length);
    client.close();
  });

  it("refuses a valid block that carries another hash or codec than requested", async () => {
    const client = new KvStoreClient(endpoint);
    const [a, b, stranger] = [makeBlock(1), makeBlock(2), makeBlock(9)];
    script.held.set(hex(hashOf(a)), a);
    script.held.set(hex(hashOf(b)), b);
    script.tamper = (i, bytes) => (i === 1 ? stranger : bytes);
    const run = await client.getRun([hashOf(a), hashOf(b)], "fp32");
    expect([run.blocks.length, run.corrupt]).toEqual([1, 1]);
    script.tamper = undefined;
    const wrongCodec = await client.getRun([hashOf(a)], "fp16");
    expect([wrongCodec.blocks.length, wrongCodec.corrupt]).toEqual([0, 1]);
    client.close();
  });

  it("counts a block cut short by the end of the stream", async () => {
    const client = new KvStoreClient(endpoint);
    const [a, b] = [makeBlock(1), makeBlock(2, 3)];
    script.held.set(hex(hashOf(a)), a);
    script.held.set(hex(hashOf(b)), b);
    script.cut = { index: 1, bytes: 5000 };
    const run = await client.getRun([hashOf(a), hashOf(b)], "fp32");
    expect([run.blocks.length, run.corrupt]).toEqual([1, 1]);
    client.close();
  });

  it("wraps a store's status as KvtierError with its code, field and retry hint", async () => {
    const client = new KvStoreClient(endpoint);
    script.fail = { code: status.RESOURCE_EXHAUSTED, details: "busy", field: "header.total_bytes", retryAfterMs: 50 };
    const put = await rejection(client.put(makeBlock(1)));
    expect([put.code, put.field, put.retryAfterMs]).toEqual(["RESOURCE_EXHAUSTED", "header.total_bytes", 50]);
    expect(put.message).toContain("busy");
    script.fail = { code: status.INVALID_ARGUMENT, details: "block_hashes[0]: bad", field: "block_hashes[0]" };
    const get = await rejection(client.getRun([new Uint8Array(16)], "fp32"));
    expect([get.code, get.field]).toEqual(["INVALID_ARGUMENT", "block_hashes[0]"]);
    const lookup = await rejection(client.lookup([new Uint8Array(16)], "fp32"));
    expect(lookup.code).toBe("INVALID_ARGUMENT");
    client.close();
  });

  it("passes lookup, delete and info through", async () => {
    const client = new KvStoreClient(endpoint);
    const [a, b] = [makeBlock(1), makeBlock(2)];
    script.held.set(hex(hashOf(a)), a);
    script.held.set(hex(hashOf(b)), b);
    expect(await client.lookup([hashOf(a), hashOf(b), new Uint8Array(16)], "fp32")).toBe(2);
    expect(await client.delete([hashOf(a), new Uint8Array(16)], "fp32")).toBe(1);
    expect(await client.info()).toEqual({ storeId: "scripted", incarnation: "inc-1", capacityBytes: 1000, usedBytes: 10, blocks: 1 });
    client.close();
  });

  it("reports an unreachable store as UNAVAILABLE or DEADLINE_EXCEEDED, and closes idempotently", async () => {
    const probe = new Server();
    const port = await new Promise<number>((resolve, reject) => probe.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    probe.forceShutdown(); // nothing listens there now
    const client = new KvStoreClient(`127.0.0.1:${port}`, { deadlineMs: 2_000 });
    const err = await rejection(client.info());
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(err.code);
    client.close();
    client.close();
    const closed = await rejection(client.lookup([], "fp32"));
    expect(closed.code).toBe("FAILED_PRECONDITION");
  });
});
