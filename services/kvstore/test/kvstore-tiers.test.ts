// The real kvstore process with host and SSD tiers: write-back gated by reuse, promotion of SSD
// hits, write-through, leases (a leased block is not evicted; release and TTL end it), and
// capacity never exceeded in either tier under a random workload.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { closeNats, connectNats, type NatsConnection } from "@kvtier/platform";
import { Tier } from "@kvtier/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMALL_BLOCK_BYTES, hashOf, makeBlock } from "../../../libs/kv-tiers/test/support/blocks.js";
import { sample, scrapeMetrics, startKvStore, type KvStoreProcess } from "./support/kvstore-process.js";
import { rawClient, type KvStoreServiceClient } from "./support/raw-client.js";
import {
  EventLog,
  getTiers,
  hex,
  lookupTiers,
  makeChain,
  putBlock,
  putChain,
  release,
  tempDir,
  testNamespace,
  tierInfo,
  until,
} from "./support/tier-helpers.js";

const NS = testNamespace();
const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
/** Room for `n` small blocks and a bit, not n + 1. */
const room = (n: number): string => String(n * SMALL_BLOCK_BYTES + 100);
/** No watermark slack: eviction only when a block would not fit, so which block goes is clear. */
const EXACT = { KVTIER_HOST_HIGH_WATERMARK_PCT: "100", KVTIER_HOST_LOW_WATERMARK_PCT: "100" };

let nc: NatsConnection;
const running: { store: KvStoreProcess; raw: KvStoreServiceClient }[] = [];

async function start(
  id: string,
  env: Record<string, string>,
): Promise<{ store: KvStoreProcess; raw: KvStoreServiceClient; events: EventLog }> {
  const events = new EventLog(nc, NS, id);
  await nc.flush();
  const store = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: id, NATS_URL, ...env });
  const raw = rawClient(store);
  running.push({ store, raw });
  return { store, raw, events };
}

beforeAll(async () => {
  nc = await connectNats(NATS_URL, "kvstore-tiers-test");
});

afterAll(async () => {
  for (const r of running) {
    r.raw.close();
    expect(await r.store.stop()).toBe(0);
  }
  await closeNats(nc);
});

const metric = async (s: KvStoreProcess, name: string, labels: Record<string, string>): Promise<number> =>
  sample(await scrapeMetrics(s), name, labels) ?? 0;

describe("kvstore tiers", () => {
  it("writes back only reused blocks on eviction and promotes an SSD hit to host", async () => {
    const dir = tempDir("wb");
    const { store, raw, events } = await start("kvs-wb", { ...EXACT, KVTIER_HOST_CAPACITY_BYTES: room(1), KVTIER_SSD_DIR: dir });
    const [reused, once1, once2] = [makeBlock({ seed: 501 }), makeBlock({ seed: 502 }), makeBlock({ seed: 503 })];
    expect((await putBlock(raw, reused)).code).toBe(0);
    expect((await getTiers(raw, [reused])).map((b) => b.tier)).toEqual([Tier.TIER_HOST]); // second use
    expect((await putBlock(raw, once1)).code).toBe(0); // evicts `reused`: written back
    expect((await putBlock(raw, once2)).code).toBe(0); // evicts `once1`: used once, not written
    await until(async () => (await lookupTiers(raw, [reused]))[0] === Tier.TIER_SSD, "the reused block in SSD");
    expect(await lookupTiers(raw, [once1])).toEqual([]);
    expect(readdirSync(join(dir, "blocks")).map((n) => n.slice(0, 32))).toEqual([hex(hashOf(reused))]);
    expect(await metric(store, "kvtier_kvstore_ssd_offers_total", { cause: "eviction", admission: "not_reused" })).toBe(1);
    expect(await metric(store, "kvtier_kvstore_ssd_offers_total", { cause: "eviction", admission: "queued" })).toBe(1);
    expect(await metric(store, "kvtier_kvstore_demotions_total", { from: "host", to: "ssd" })).toBe(1);

    const got = await getTiers(raw, [reused]);
    expect(got.map((b) => b.tier)).toEqual([Tier.TIER_SSD]);
    expect(got[0].bytes.equals(reused)).toBe(true);
    expect(await lookupTiers(raw, [reused])).toEqual([Tier.TIER_HOST]);
    const page = await scrapeMetrics(store);
    expect(sample(page, "kvtier_kvstore_promotions_total", { from: "ssd", to: "host" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_hits_total", { tier: "ssd" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_tier_io_bytes_total", { tier: "ssd", op: "read" })).toBe(reused.length);
    expect(sample(page, "kvtier_kvstore_tier_io_bytes_total", { tier: "ssd", op: "write" })).toBe(reused.length);
    expect(sample(page, "kvtier_kvstore_occupancy_blocks", { tier: "ssd" })).toBe(1);
    await until(
      () => events.hashes("stored", Tier.TIER_HOST).filter((h) => h === hex(hashOf(reused))).length === 2,
      "the promotion's stored event",
    );
    expect(events.hashes("stored", Tier.TIER_SSD)).toEqual([hex(hashOf(reused))]);
    expect(events.hashes("removed", Tier.TIER_HOST).slice(0, 2)).toEqual([hex(hashOf(reused)), hex(hashOf(once1))]);
  });

  it("with write-through, copies every put to SSD, so an evicted one-off block is still served", async () => {
    const dir = tempDir("wt");
    const { store, raw } = await start("kvs-wt", {
      ...EXACT,
      KVTIER_HOST_CAPACITY_BYTES: room(1),
      KVTIER_SSD_DIR: dir,
      KVTIER_SSD_WRITE_THROUGH: "true",
    });
    const [x, y] = [makeBlock({ seed: 511 }), makeBlock({ seed: 512 })];
    await putChain(raw, [x]);
    await until(async () => (await tierInfo(raw)).ssd.blocks === 1, "x written through");
    await putChain(raw, [y]);
    expect(await lookupTiers(raw, [x])).toEqual([Tier.TIER_SSD]);
    expect((await getTiers(raw, [x]))[0].bytes.equals(x)).toBe(true);
    expect(await metric(store, "kvtier_kvstore_ssd_offers_total", { cause: "write_through", admission: "queued" })).toBe(2);
  });

  it("never evicts a leased block; a full host refuses puts until the lease is released or its TTL ends", async () => {
    const { store, raw } = await start("kvs-lease", { ...EXACT, KVTIER_HOST_CAPACITY_BYTES: room(3) });
    const chain = makeChain(3, 520);
    await putChain(raw, chain);
    expect(await getTiers(raw, chain, { id: "req-1" })).toHaveLength(3);
    expect(await metric(store, "kvtier_kvstore_leased_blocks", {})).toBe(3);
    const refused = await putBlock(raw, makeBlock({ seed: 530 }));
    expect([refused.code, refused.field]).toEqual([8, "header.total_bytes"]); // RESOURCE_EXHAUSTED
    expect(await lookupTiers(raw, chain)).toHaveLength(3);
    expect(await release(raw, "req-1")).toBe(3);
    expect(await release(raw, "req-1")).toBe(0);
    expect((await putBlock(raw, makeBlock({ seed: 530 }))).code).toBe(0);
    expect(await metric(store, "kvtier_kvstore_puts_refused_total", { reason: "host_full" })).toBe(1);

    // a lease that is never released ends with its TTL: all three held blocks leased, then a put fits again
    const next = makeChain(3, 540);
    await putChain(raw, next);
    expect(await getTiers(raw, next, { id: "req-2", ttlMs: 200 })).toHaveLength(3);
    await until(async () => (await metric(store, "kvtier_kvstore_leases", {})) === 0, "the lease's TTL to end");
    expect((await putBlock(raw, makeBlock({ seed: 550 }))).code).toBe(0);
  });

  it("keeps each tier within its capacity under a random mix of puts, durable puts and gets", async () => {
    const dir = tempDir("cap");
    const { raw } = await start("kvs-cap", {
      KVTIER_HOST_CAPACITY_BYTES: room(4),
      KVTIER_SSD_DIR: dir,
      KVTIER_SSD_CAPACITY_BYTES: room(6),
      KVTIER_SSD_ADMIT_MIN_ACCESSES: "1",
    });
    let s = 7;
    const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
    const chains = Array.from({ length: 6 }, (_v, i) => makeChain(4, 600 + 10 * i));
    for (let step = 0; step < 120; step++) {
      const chain = chains[Math.floor(rnd() * chains.length)];
      const n = 1 + Math.floor(rnd() * chain.length);
      const op = rnd();
      if (op < 0.4) await putChain(raw, chain.slice(0, n), op < 0.1);
      else {
        const got = await getTiers(raw, chain.slice(0, n));
        for (let i = 0; i < got.length; i++) expect(got[i].bytes.equals(chain[i])).toBe(true);
      }
      const info = await tierInfo(raw);
      expect(info.host.used).toBeLessThanOrEqual(info.host.capacity);
      expect(info.ssd.used).toBeLessThanOrEqual(info.ssd.capacity);
    }
    const files = (): number => readdirSync(join(dir, "blocks")).length;
    await until(async () => files() === (await tierInfo(raw)).ssd.blocks, "unlinks and writes to settle");
    expect(files() * SMALL_BLOCK_BYTES).toBeLessThanOrEqual(Number(room(6)));
  });
});
