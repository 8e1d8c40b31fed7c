// The real kvstore process through KvStoreClient and a bare gRPC client: round trips, chunking,
// idempotence, every kind of bad put, lookup/delete/info, metrics and a clean SIGTERM exit.
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { MAX_CHUNK_BYTES } from "@kvtier/kv-transport";
import { KvStoreClient, KvtierError } from "@kvtier/platform";
import { AckLevel, PutHeader } from "@kvtier/proto";
import { MAX_KV_BLOCK_BYTES, readKvBlockHeader, verifyKvBlock } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashOf, makeBlock, makeLargeBlock, randomHash } from "../../../libs/kv-tiers/test/support/blocks.js";
import { startKvStore, sample, scrapeMetrics, type KvStoreProcess } from "./support/kvstore-process.js";
import { KvStoreServiceClient, putMessages, rawClient, rawGet, rawPut } from "./support/raw-client.js";

const NS = `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;

let store: KvStoreProcess;
let client: KvStoreClient;
let raw: KvStoreServiceClient;

beforeAll(async () => {
  store = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: "kvs-main" });
  client = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["grpc"] }); // this file checks the gRPC path
  raw = rawClient(store);
});

afterAll(async () => {
  client?.close();
  raw?.close();
  if (store) expect(await store.stop()).toBe(0);
});

/** The KvtierError a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<KvtierError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvtierError);
  return err as KvtierError;
}

describe("kvstore process", () => {
  it("announces itself and reports its identity", async () => {
    const info = await client.info();
    expect(info).toMatchObject({ storeId: "kvs-main", incarnation: store.incarnation, capacityBytes: 256 * 1024 * 1024 });
  });

  it("round-trips a chain byte-identical and verified, stopping at the first missing block", async () => {
    const chain = [1, 2, 3].map((seed) => makeBlock({ seed }));
    for (const b of chain) expect(await client.put(b)).toEqual({ created: true });
    const hashes = chain.map(hashOf);
    const run = await client.getRun(hashes, "fp32");
    expect(run.corrupt).toBe(0);
    expect(run.blocks.map((b, i) => Buffer.from(b).equals(chain[i]))).toEqual([true, true, true]);
    expect(run.bytes).toBe(chain.reduce((n, b) => n + b.length, 0));
    for (const b of run.blocks) expect(() => verifyKvBlock(b)).not.toThrow();

    const gap = await client.getRun([hashes[0], randomHash(), hashes[2]], "fp32");
    expect(gap.blocks.map((b) => Buffer.from(b).equals(chain[0]))).toEqual([true]);
    expect((await client.getRun(hashes, "fp16")).blocks).toEqual([]);
    expect(await client.lookup([...hashes, randomHash()], "fp32")).toBe(3);
    expect(await client.lookup([randomHash(), ...hashes], "fp32")).toBe(0);
  });

  it("moves a block over 1 MiB in chunks of at most MAX_CHUNK_BYTES both ways", async () => {
    const big = makeLargeBlock();
    expect(big.length).toBeGreaterThan(2 * MAX_CHUNK_BYTES);
    expect(await client.put(big)).toEqual({ created: true });
    const run = await client.getRun([hashOf(big)], "fp32");
    expect(Buffer.from(run.blocks[0]).equals(big)).toBe(true);

    const { msgs, error } = await rawGet(raw, [hashOf(big)], "fp32");
    expect(error).toBeUndefined();
    expect(msgs[0].part?.$case).toBe("header");
    const chunks = msgs.slice(1).map((m) => (m.part?.$case === "chunk" ? m.part.value : new Uint8Array(0)));
    expect(chunks.length).toBe(Math.ceil(big.length / MAX_CHUNK_BYTES));
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    // a put whose chunk is over the limit is refused, naming the chunk
    const bad = await rawPut(raw, putMessages(big, { blockHash: randomHash(), codec: "fp32" }, MAX_CHUNK_BYTES + 1));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, field: "chunk" });
  });

  it("is idempotent for the same bytes and refuses different bytes under the same key", async () => {
    const b = makeBlock({ seed: 11 });
    expect(await client.put(b)).toEqual({ created: true });
    const before = await client.info();
    expect(await client.put(b)).toEqual({ created: false });
    const after = await client.info();
    expect([after.blocks, after.usedBytes]).toEqual([before.blocks, before.usedBytes]);

    const other = makeBlock({ seed: 12, blockHash: hashOf(b) });
    const err = await rejection(client.put(other));
    expect(err.code as string).toBe("ALREADY_EXISTS");
    expect(err.field).toBe("block");

    expect(await client.delete([hashOf(b), randomHash()], "fp32")).toBe(1);
    expect(await client.put(other)).toEqual({ created: true });
    expect(Buffer.from((await client.getRun([hashOf(b)], "fp32")).blocks[0]).equals(other)).toBe(true);
  });

  it("refuses every bad put with the right status and field while serving another client", async () => {
    const good = makeBlock({ seed: 21 });
    const h = hashOf(good);
    const corrupt = Uint8Array.from(good);
    corrupt[corrupt.length - 1] ^= 0xff;
    const unknownCodec = Uint8Array.from(good);
    unknownCodec.set(new TextEncoder().encode("zz\0\0"), 80); // the block's own codec field
    const wrongSize = makeBlock({ seed: 22, blockSize: 32 });

    const cases: { name: string; msgs: Parameters<typeof rawPut>[1]; code: number; field: string }[] = [
      {
        name: "oversized",
        msgs: [
          { part: { $case: "header", value: PutHeader.fromPartial({ blockHash: h, codec: "fp32", totalBytes: MAX_KV_BLOCK_BYTES + 1 }) } },
        ],
        code: status.INVALID_ARGUMENT,
        field: "header.total_bytes",
      },
      {
        name: "too small",
        msgs: putMessages(good.subarray(0, 64), { blockHash: h, codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "header.total_bytes",
      },
      {
        name: "truncated stream",
        msgs: putMessages(good, { blockHash: h, codec: "fp32" })
          .slice(0, 1)
          .concat([{ part: { $case: "chunk", value: good.subarray(0, 1000) } }]),
        code: status.INVALID_ARGUMENT,
        field: "chunk",
      },
      {
        name: "truncated block",
        msgs: putMessages(good.subarray(0, 2000), { blockHash: h, codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "block",
      },
      {
        name: "overrun",
        msgs: putMessages(good, { blockHash: h, codec: "fp32", totalBytes: good.length - 1 }),
        code: status.INVALID_ARGUMENT,
        field: "chunk",
      },
      {
        name: "mis-declared hash",
        msgs: putMessages(good, { blockHash: randomHash(), codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "header.block_hash",
      },
      {
        name: "mis-declared codec",
        msgs: putMessages(good, { blockHash: h, codec: "fp16" }),
        code: status.INVALID_ARGUMENT,
        field: "header.codec",
      },
      {
        name: "unknown codec declared",
        msgs: putMessages(good, { blockHash: h, codec: "int3-nope" }),
        code: status.INVALID_ARGUMENT,
        field: "header.codec",
      },
      {
        name: "unknown codec in block",
        msgs: putMessages(unknownCodec, { blockHash: h, codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "block.codec",
      },
      {
        name: "wrong checksum",
        msgs: putMessages(corrupt, { blockHash: h, codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "block.checksum",
      },
      {
        name: "short hash",
        msgs: putMessages(good, { blockHash: h.subarray(0, 8), codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "header.block_hash",
      },
      {
        name: "chunk before header",
        msgs: putMessages(good, { blockHash: h, codec: "fp32" }).slice(1),
        code: status.INVALID_ARGUMENT,
        field: "header",
      },
      {
        name: "header twice",
        msgs: [putMessages(good, { blockHash: h, codec: "fp32" })[0], ...putMessages(good, { blockHash: h, codec: "fp32" })],
        code: status.INVALID_ARGUMENT,
        field: "header",
      },
      { name: "empty stream", msgs: [], code: status.INVALID_ARGUMENT, field: "header" },
      {
        name: "other block size",
        msgs: putMessages(wrongSize, { blockHash: hashOf(wrongSize), codec: "fp32" }),
        code: status.INVALID_ARGUMENT,
        field: "block.block_size",
      },
      {
        name: "durable ack",
        msgs: putMessages(good, { blockHash: h, codec: "fp32", ack: AckLevel.ACK_LEVEL_DURABLE }),
        code: status.FAILED_PRECONDITION,
        field: "header.ack",
      },
    ];

    // Meanwhile another client keeps putting and reading its own blocks.
    const other = new KvStoreClient(store.endpoint, { serviceToken: store.token });
    const busy = (async () => {
      const served: boolean[] = [];
      for (let i = 0; i < 20; i++) {
        const b = makeBlock({ seed: 1000 + i });
        await other.put(b);
        const run = await other.getRun([hashOf(b)], "fp32");
        served.push(run.blocks.length === 1 && Buffer.from(run.blocks[0]).equals(b));
      }
      return served;
    })();
    const outcomes = await Promise.all(cases.map((c) => rawPut(raw, c.msgs)));
    expect((await busy).every(Boolean)).toBe(true);
    other.close();

    for (const [i, c] of cases.entries()) {
      expect({ name: c.name, code: outcomes[i].code, field: outcomes[i].field }).toEqual({ name: c.name, code: c.code, field: c.field });
    }
    // nothing bad was stored
    expect(await client.lookup([h], "fp32")).toBe(0);
    // the good block still goes in afterwards
    expect(await client.put(good)).toEqual({ created: true });

    const page = await scrapeMetrics(store);
    expect(sample(page, "kvtier_kvstore_puts_refused_total", { reason: "checksum" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_checksum_failures_total", { stage: "receive" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_puts_refused_total", { reason: "mismatch" })).toBe(2);
    expect(sample(page, "kvtier_kvstore_puts_refused_total", { reason: "protocol" })).toBe(3);
  });

  it("maps refusals to KvtierError in the client, and refuses a malformed block before sending it", async () => {
    const b = makeBlock({ seed: 31 });
    const durable = await rejection(client.put(b, { ack: "durable" }));
    expect([durable.code, durable.field]).toEqual(["FAILED_PRECONDITION", "header.ack"]);
    expect(durable.message).toContain("ack=durable needs an SSD tier");

    const local = await rejection(client.put(b.subarray(0, 50)));
    expect([local.code, local.field]).toEqual(["INVALID_ARGUMENT", "block"]);

    const badHash = await rejection(client.getRun([new Uint8Array(3)], "fp32"));
    expect([badHash.code, badHash.field]).toEqual(["INVALID_ARGUMENT", "block_hashes[0]"]);
    const badCodec = await rejection(client.lookup([randomHash()], "nope"));
    expect([badCodec.code, badCodec.field]).toEqual(["INVALID_ARGUMENT", "codec"]);
    const lease = await rawGet(raw, [randomHash()], "fp32", "x".repeat(129));
    expect(lease.error).toMatchObject({ code: status.INVALID_ARGUMENT, field: "lease_id" });
  });

  it("counts reads, writes, hits and misses per tier and data path", async () => {
    const b = makeBlock({ seed: 41 });
    const before = await scrapeMetrics(store);
    await client.put(b);
    await client.getRun([hashOf(b), randomHash()], "fp32");
    const page = await scrapeMetrics(store);
    const delta = (name: string, labels: Record<string, string>): number =>
      (sample(page, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(delta("kvtier_kvstore_written_bytes_total", { tier: "host", path: "grpc" })).toBe(b.length);
    expect(delta("kvtier_kvstore_read_bytes_total", { tier: "host", path: "grpc" })).toBe(b.length);
    expect(delta("kvtier_kvstore_hits_total", { tier: "host" })).toBe(1);
    expect(delta("kvtier_kvstore_misses_total", { tier: "host" })).toBe(1);
    const info = await client.info();
    expect(sample(page, "kvtier_kvstore_occupancy_bytes", { tier: "host" })).toBe(info.usedBytes);
    expect(sample(page, "kvtier_kvstore_occupancy_blocks", { tier: "host" })).toBe(info.blocks);
    expect(readKvBlockHeader(b).codec).toBe("fp32");
  });
});
