// Durability and integrity of the real kvstore process with an SSD tier: kill -9 while durable
// puts are in flight, then restart on the same directory: every block acknowledged durable is
// served and verified, nothing partial is visible, the index is rebuilt and re-announced under
// the new incarnation. A flipped byte on disk is detected, reported and served as a miss. A full
// device refuses durable puts while the store keeps serving. Two stores cannot share a directory.
import { execFileSync } from "node:child_process";
import { promises as fsp, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KvStoreClient, KvtierError, closeNats, connectNats, type NatsConnection } from "@kvtier/platform";
import { Tier } from "@kvtier/proto";
import { verifyKvBlock } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashOf, makeBlock } from "../../../libs/kv-tiers/test/support/blocks.js";
import { sample, scrapeMetrics, startKvStore, type KvStoreProcess } from "./support/kvstore-process.js";
import { rawClient } from "./support/raw-client.js";
import { EventLog, hex, lookupTiers, tempDir, testNamespace, until } from "./support/tier-helpers.js";

const NS = testNamespace();
const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
const STORE_ID = "kvs-durable";
/** Blocks of 128 KiB (4 layers x 8 KV heads x 64 dims x 16 tokens, fp32), so writes take a while. */
const blockOf = (seed: number): Uint8Array => makeBlock({ seed, nLayers: 4, nKvHeads: 8, headDim: 64 });
/** Durable puts started; the store is killed after KILL_AFTER_ACKS of them are acknowledged. */
const PUTS = 48;
const KILL_AFTER_ACKS = 12;
/** Durable puts in flight at once. */
const CONCURRENCY = 8;

let nc: NatsConnection;
let events: EventLog;
const stores: KvStoreProcess[] = [];

async function start(dir: string, env: Record<string, string> = {}): Promise<{ store: KvStoreProcess; client: KvStoreClient }> {
  const store = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: STORE_ID, NATS_URL, KVTIER_SSD_DIR: dir, ...env });
  stores.push(store);
  return { store, client: new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["grpc"] }) };
}

beforeAll(async () => {
  nc = await connectNats(NATS_URL, "kvstore-durability-test");
  events = new EventLog(nc, NS, STORE_ID);
  await nc.flush();
});

afterAll(async () => {
  for (const s of stores) await s.kill("SIGTERM");
  await closeNats(nc);
});

describe("kvstore durability", () => {
  const dir = tempDir("crash");
  const blocks = Array.from({ length: PUTS }, (_v, i) => blockOf(1000 + i));
  const acked = new Set<number>();
  let second: { store: KvStoreProcess; client: KvStoreClient };

  it("survives kill -9 during durable puts: every acknowledged block is served verified, nothing partial is visible", async () => {
    const first = await start(dir);
    let next = 0;
    let killed: Promise<unknown> | undefined;
    const worker = async (): Promise<void> => {
      while (next < PUTS && !killed) {
        const i = next++;
        try {
          await first.client.put(blocks[i], { ack: "durable" });
          acked.add(i);
          if (acked.size >= KILL_AFTER_ACKS && !killed) killed = first.store.kill("SIGKILL");
        } catch {
          // in flight when the store died: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(await killed).toBe("SIGKILL");
    void first.client.close();
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(acked.size).toBeLessThan(PUTS);

    second = await start(dir);
    for (const i of acked) {
      const run = await second.client.getRun([hashOf(blocks[i])], "fp32");
      expect(run.corrupt).toBe(0);
      expect(run.blocks).toHaveLength(1);
      expect(Buffer.from(run.blocks[0]).equals(blocks[i])).toBe(true);
    }
    for (let i = 0; i < PUTS; i++) {
      if (acked.has(i)) continue;
      const run = await second.client.getRun([hashOf(blocks[i])], "fp32"); // absent, or whole and verified
      expect(run.corrupt).toBe(0);
      for (const b of run.blocks) expect(Buffer.from(b).equals(blocks[i])).toBe(true);
    }
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    for (const name of readdirSync(join(dir, "blocks"))) expect(() => verifyKvBlock(readFileSync(join(dir, "blocks", name)))).not.toThrow();
  });

  it("rebuilt its index on restart and re-announced the SSD blocks under the new incarnation", async () => {
    const onDisk = readdirSync(join(dir, "blocks"))
      .map((n) => n.slice(0, 32))
      .sort();
    expect(onDisk.length).toBeGreaterThanOrEqual(acked.size);
    await until(() => events.hashes("stored", Tier.TIER_SSD, second.store.incarnation).length >= onDisk.length, "the SSD re-announcement");
    expect([...new Set(events.hashes("stored", Tier.TIER_SSD, second.store.incarnation))].sort()).toEqual(onDisk);
    // the keys come off disk in no chain order, and a stored event's list is a chain: one block per event
    const lists = events.batches
      .filter((b) => b.incarnation === second.store.incarnation)
      .flatMap((b) => b.events.flatMap((e) => (e.event?.$case === "stored" ? [e.event.value.blockHashes.length] : [])));
    expect(Math.max(...lists)).toBe(1);
    const raw = rawClient(second.store);
    const first = [...acked][0];
    expect(await lookupTiers(raw, [blocks[first]])).toEqual([Tier.TIER_HOST]); // promoted by the reads above
    raw.close();
  });

  it("detects a flipped byte in an SSD block after a restart, reports it, deletes it and serves a miss", async () => {
    expect(await second.store.stop()).toBe(0);
    void second.client.close();
    const [victim, healthy] = [...acked];
    const h = hex(hashOf(blocks[victim]));
    const file = join(
      dir,
      "blocks",
      readdirSync(join(dir, "blocks")).find((n) => n.startsWith(h))!,
    );
    const bytes = await fsp.readFile(file);
    bytes[bytes.length - 1000] ^= 0x01;
    await fsp.writeFile(file, bytes);

    const third = await start(dir);
    const raw = rawClient(third.store);
    expect(await lookupTiers(raw, [blocks[victim]])).toEqual([Tier.TIER_SSD]); // the index cannot know yet
    const run = await third.client.getRun([hashOf(blocks[victim])], "fp32");
    expect([run.blocks.length, run.corrupt]).toEqual([0, 0]); // a miss, not corrupt bytes
    expect(await lookupTiers(raw, [blocks[victim]])).toEqual([]);
    expect(readdirSync(join(dir, "blocks")).some((n) => n.startsWith(h))).toBe(false);
    const page = await scrapeMetrics(third.store);
    expect(sample(page, "kvtier_kvstore_checksum_failures_total", { stage: "ssd_read" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_misses_total", { tier: "ssd" })).toBe(1);
    expect(third.store.logs()).toContain("corrupt SSD block");
    await until(() => events.hashes("removed", Tier.TIER_SSD, third.store.incarnation).includes(h), "the removed event");
    const ok = await third.client.getRun([hashOf(blocks[healthy])], "fp32");
    expect(Buffer.from(ok.blocks[0]).equals(blocks[healthy])).toBe(true);
    raw.close();
    void third.client.close();
  });

  it("refuses to share its SSD directory with another running store", async () => {
    const err = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: "kvs-intruder", NATS_URL, KVTIER_SSD_DIR: dir }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toContain("is in use by process");
  });

  it.runIf(process.getuid?.() === 0)("on a full device, refuses durable puts (RESOURCE_EXHAUSTED) and keeps serving", async () => {
    const small = tempDir("full");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
    try {
      const { store, client } = await start(small, { KVTIER_KVSTORE_ID: "kvs-full", KVTIER_SSD_CAPACITY_BYTES: String(1 << 30) });
      const stored: Uint8Array[] = [];
      let refusal: unknown;
      for (let seed = 2000; seed < 2020 && !refusal; seed++) {
        const b = blockOf(seed);
        await client.put(b, { ack: "durable" }).then(
          () => stored.push(b),
          (e: unknown) => (refusal = e),
        );
      }
      expect(refusal).toBeInstanceOf(KvtierError);
      expect([(refusal as KvtierError).code, (refusal as KvtierError).field]).toEqual(["RESOURCE_EXHAUSTED", "header.ack"]);
      expect(stored.length).toBeGreaterThan(0);
      expect(await client.put(blockOf(2100))).toEqual({ created: true }); // memory puts still work
      const back = await client.getRun(stored.map(hashOf), "fp32");
      expect(back.blocks).toHaveLength(stored.length);
      expect(sample(await scrapeMetrics(store), "kvtier_kvstore_puts_refused_total", { reason: "disk_full" })).toBe(1);
      expect(readdirSync(join(small, "tmp"))).toEqual([]);
      expect(await store.stop()).toBe(0);
      void client.close();
    } finally {
      execFileSync("umount", [small]);
    }
  });
});
