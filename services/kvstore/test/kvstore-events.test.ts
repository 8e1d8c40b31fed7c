// Eviction under a small capacity and what the kvstore announces on NATS: stored/removed events
// with tier and codec, seq rising by one per batch, and snapshots of what it holds.
import { randomUUID } from "node:crypto";
import {
  KvStoreClient,
  KvtierError,
  closeNats,
  connectNats,
  kvEventsSubject,
  kvSnapshotSubject,
  type NatsConnection,
} from "@kvtier/platform";
import { KvEventBatch, SnapshotRequest, Tier } from "@kvtier/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMALL_BLOCK_BYTES, hashOf, makeBlock } from "../../../libs/kv-tiers/test/support/blocks.js";
import { startKvStore, sample, scrapeMetrics, type KvStoreProcess } from "./support/kvstore-process.js";

const NS = `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const STORE_ID = "kvs-events";
const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
/** Room for three small blocks and a bit, not four. */
const CAPACITY = 3 * SMALL_BLOCK_BYTES + 100;

let store: KvStoreProcess;
let client: KvStoreClient;
let nc: NatsConnection;
const batches: KvEventBatch[] = [];

const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");

/** Hashes (hex) of every event of `kind` received so far. */
function announced(kind: "stored" | "removed"): string[] {
  const out: string[] = [];
  for (const b of batches) {
    for (const e of b.events) {
      if (e.event?.$case === kind) {
        expect(e.event.value.medium).toBe(Tier.TIER_HOST);
        expect(e.event.value.codec).toBe("fp32");
        out.push(...e.event.value.blockHashes.map(hex));
      }
    }
  }
  return out;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  nc = await connectNats(NATS_URL, "kvstore-events-test");
  nc.subscribe(kvEventsSubject(NS, STORE_ID), {
    callback: (_err, msg) => {
      batches.push(KvEventBatch.decode(msg.data));
    },
  });
  await nc.flush();
  // plain LRU and no watermark slack, so which block goes is obvious; the default policy is tested in kvstore-tiers
  store = await startKvStore({
    KVTIER_NAMESPACE: NS,
    KVTIER_KVSTORE_ID: STORE_ID,
    KVTIER_HOST_CAPACITY_BYTES: String(CAPACITY),
    NATS_URL,
    KVTIER_EVICTION_POLICY: "lru",
    KVTIER_HOST_HIGH_WATERMARK_PCT: "100",
    KVTIER_HOST_LOW_WATERMARK_PCT: "100",
  });
  client = new KvStoreClient(store.endpoint, { serviceToken: store.token });
});

afterAll(async () => {
  client?.close();
  if (store) expect(await store.stop()).toBe(0);
  await closeNats(nc);
});

describe("kvstore eviction and KV events", () => {
  const blocks = [0, 1, 2, 3, 4, 5].map((seed) => makeBlock({ seed: 100 + seed }));
  const h = blocks.map(hashOf);

  it("evicts least recently used blocks, never exceeding capacity, and announces what it stores and drops", async () => {
    for (const b of blocks.slice(0, 5)) {
      expect(await client.put(b)).toEqual({ created: true });
      const info = await client.info();
      expect(info.usedBytes).toBeLessThanOrEqual(CAPACITY);
      expect(info.capacityBytes).toBe(CAPACITY);
    }
    // 0 and 1 went to make room for 3 and 4
    expect(await client.lookup([h[0]], "fp32")).toBe(0);
    expect(await client.lookup([h[1]], "fp32")).toBe(0);
    expect(await client.lookup([h[2], h[3], h[4]], "fp32")).toBe(3);

    // a get is a use: 2 becomes most recent, so 5 pushes out 3
    expect((await client.getRun([h[2]], "fp32")).blocks).toHaveLength(1);
    await client.put(blocks[5]);
    expect(await client.lookup([h[3]], "fp32")).toBe(0);
    expect(await client.lookup([h[2]], "fp32")).toBe(1);
    expect(await client.lookup([h[4]], "fp32")).toBe(1);
    expect((await client.info()).blocks).toBe(3);

    await until(() => announced("removed").length >= 3, "three removed events");
    expect(announced("removed")).toEqual([h[0], h[1], h[3]].map(hex));
    expect(announced("stored")).toEqual(h.map(hex));

    const page = await scrapeMetrics(store);
    expect(sample(page, "kvtier_kvstore_evictions_total", { tier: "host" })).toBe(3);
    expect(sample(page, "kvtier_kvstore_capacity_bytes", { tier: "host" })).toBe(CAPACITY);
  });

  it("announces deletes, numbers batches 1, 2, 3, ... under its incarnation", async () => {
    expect(await client.delete([h[4]], "fp32")).toBe(1);
    await until(() => announced("removed").includes(hex(h[4])), "the delete's removed event");
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_b, i) => i + 1));
    for (const b of batches) {
      expect(b.incarnation).toBe(store.incarnation);
      expect(b.announcerId).toBe(STORE_ID);
      expect(b.snapshot).toBe(false);
    }
  });

  it("answers a snapshot request with what it holds", async () => {
    const reply = await nc.request(kvSnapshotSubject(NS, STORE_ID), SnapshotRequest.encode({ requester: "test" }).finish(), {
      timeout: 5_000,
    });
    const snap = KvEventBatch.decode(reply.data);
    expect(snap.snapshot).toBe(true);
    expect(snap.incarnation).toBe(store.incarnation);
    expect(snap.seq).toBe(batches.length);
    const held = snap.events.flatMap((e) => (e.event?.$case === "stored" ? e.event.value.blockHashes.map(hex) : []));
    expect(held.sort()).toEqual([h[2], h[5]].map(hex).sort());
    for (const e of snap.events)
      expect(e.event?.$case === "stored" && e.event.value.medium === Tier.TIER_HOST && e.event.value.codec === "fp32").toBe(true);
  });

  it("refuses a block larger than the whole tier with RESOURCE_EXHAUSTED and keeps what it holds", async () => {
    const big = makeBlock({ seed: 200, nLayers: 8 });
    expect(big.length).toBeGreaterThan(CAPACITY);
    const err = await client.put(big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvtierError);
    expect([(err as KvtierError).code, (err as KvtierError).field]).toEqual(["RESOURCE_EXHAUSTED", "header.total_bytes"]);
    expect(await client.lookup([h[2]], "fp32")).toBe(1);
    expect(sample(await scrapeMetrics(store), "kvtier_kvstore_puts_refused_total", { reason: "no_room" })).toBe(1);
  });

  it("serves request-scoped blocks on every data path but never announces them, in events or snapshots", async () => {
    for (const [i, path] of (["grpc", "tcp", "shm"] as const).entries()) {
      const c = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: [path] });
      try {
        const scoped = makeBlock({ seed: 300 + i });
        const marker = makeBlock({ seed: 400 + i });
        await c.putRun([scoped], { requestScoped: true });
        await c.put(marker); // announced after the scoped put, so its event proves the scoped one's would have come
        await until(() => announced("stored").includes(hex(hashOf(marker))), `the ${path} marker's stored event`);
        expect(announced("stored"), path).not.toContain(hex(hashOf(scoped)));
        const run = await c.getRun([hashOf(scoped)], "fp32");
        expect(Buffer.from(run.blocks[0]).equals(Buffer.from(scoped)), path).toBe(true);
        const reply = await nc.request(kvSnapshotSubject(NS, STORE_ID), SnapshotRequest.encode({ requester: "test" }).finish(), {
          timeout: 5_000,
        });
        const held = KvEventBatch.decode(reply.data).events.flatMap((e) =>
          e.event?.$case === "stored" ? e.event.value.blockHashes.map(hex) : [],
        );
        expect(held, path).toContain(hex(hashOf(marker)));
        expect(held, path).not.toContain(hex(hashOf(scoped)));
        expect(await c.delete([hashOf(scoped)], "fp32")).toBe(1);
        expect(await c.delete([hashOf(marker)], "fp32")).toBe(1);
        await until(() => announced("removed").includes(hex(hashOf(marker))), `the ${path} marker's removed event`);
        expect(announced("removed"), path).not.toContain(hex(hashOf(scoped)));
      } finally {
        c.close();
      }
    }
  });

  it("refuses a request-scoped block with ack=durable, naming the field", async () => {
    const err = await client.putRun([makeBlock({ seed: 500 })], { requestScoped: true, ack: "durable" });
    expect(err[0].error).toBeInstanceOf(KvtierError);
    expect([err[0].error?.code, err[0].error?.field]).toEqual(["INVALID_ARGUMENT", "header.request_scoped"]);
  });
});
