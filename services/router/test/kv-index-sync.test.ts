// KvIndexSync over a real nats-server with real KvEventAnnouncers: a lost batch (dropped by the
// fault-injection knob, here at a chosen position) shows as a gap at the next one, the sync asks
// the announcer for a snapshot and ends equal to its true state, with the quiet resync off so
// that only the gap repair can do it; a restarted announcer's old blocks go; discovery finds an
// announcer nobody mentioned (a kvstore without workers).
import { randomBytes } from "node:crypto";
import { startNats, type ManagedServer } from "@kvtier/local-stack";
import { KvEventAnnouncer, closeNats, connectNats, createLogger, type HeldBlocks, type NatsConnection } from "@kvtier/platform";
import { hashHex } from "@kvtier/kv-router";
import { Tier } from "@kvtier/proto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KvIndexSync, type BatchOutcome } from "../src/kv-index-sync.js";

const h = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (n * 131 + i * 7) & 0xff);
const log = createLogger("router-test", "error");

let nats: ManagedServer;
let nc: NatsConnection;
let ns: string;
beforeAll(async () => {
  nats = await startNats();
  nc = await connectNats(nats.url, "kv-index-sync-test");
});
afterAll(async () => {
  await closeNats(nc);
  await nats?.stop();
});
beforeEach(() => {
  ns = `t${randomBytes(6).toString("hex")}`;
});

/** A real announcer over a set it holds in the device tier. */
function announcer(id: string): {
  a: KvEventAnnouncer;
  held: Set<number>;
  store: (...ids: number[]) => void;
  remove: (...ids: number[]) => void;
} {
  const a = new KvEventAnnouncer(nc, ns, id, 16);
  const held = new Set<number>();
  a.serveSnapshots(
    (): HeldBlocks[] => [{ tier: Tier.TIER_DEVICE, codec: "raw", hashes: [...held].map(h) }],
    () => undefined,
  );
  return {
    a,
    held,
    store: (...ids) => {
      ids.forEach((i) => held.add(i));
      a.stored(Tier.TIER_DEVICE, "raw", ids.map(h));
      a.flush();
    },
    remove: (...ids) => {
      ids.forEach((i) => held.delete(i));
      a.removed(Tier.TIER_DEVICE, "raw", ids.map(h));
      a.flush();
    },
  };
}

function sync(dropAt: number[] = []): { s: KvIndexSync; outcomes: BatchOutcome[]; snapshots: string[] } {
  const outcomes: BatchOutcome[] = [];
  const snapshots: string[] = [];
  let n = 0;
  const s = new KvIndexSync(
    nc,
    ns,
    "router-test",
    // drop the batches received at the positions in dropAt (1-based): draw 0 there, 0.99 elsewhere
    {
      quietResyncMs: 0,
      faultDropOneIn: dropAt.length > 0 ? 2 : 0,
      faultRandom: () => (dropAt.includes(++n) ? 0 : 0.99),
      isRefused: () => false,
    },
    { batch: (o) => outcomes.push(o), snapshot: (r) => snapshots.push(r) },
    log,
  );
  s.start();
  return { s, outcomes, snapshots };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
const indexed = (s: KvIndexSync, id: string): string[] => s.index.snapshot(id).map((b) => b.hashHex);
const truth = (held: Set<number>): string[] => [...held].map((i) => hashHex(h(i))).sort();

describe("KvIndexSync over NATS", () => {
  it("a lost batch shows as a gap at the next one; the snapshot it triggers restores the true state", async () => {
    const { s, outcomes, snapshots } = sync([2]);
    const w = announcer("w1");
    await nc.flush();
    w.store(1, 2);
    w.store(3, 4); // dropped on arrival
    w.remove(1);
    await settle();
    expect(outcomes).toEqual(["restart", "fault_dropped", "gap"]);
    expect(snapshots).toEqual(["applied"]);
    expect(indexed(s, "w1")).toEqual(truth(w.held));
    w.store(5);
    await settle();
    expect(indexed(s, "w1")).toEqual(truth(w.held));
    s.close();
    w.a.close();
  });

  it("without the repair the index would stay wrong (the check can fail)", async () => {
    const { s } = sync([2]);
    const w = announcer("w1");
    await nc.flush();
    w.store(1, 2);
    w.store(3, 4); // dropped, and nothing follows: no gap is ever seen, and the quiet resync is off
    await settle();
    expect(indexed(s, "w1")).not.toEqual(truth(w.held));
    s.close();
    w.a.close();
  });

  it("a restarted announcer's old blocks leave the index", async () => {
    const { s } = sync();
    const w = announcer("w1");
    await nc.flush();
    w.store(1, 2, 3);
    await settle();
    w.a.close();
    const again = announcer("w1"); // new incarnation, seq from 1
    again.store(7);
    await settle();
    expect(indexed(s, "w1")).toEqual(truth(again.held));
    s.close();
    again.a.close();
  });

  it("discovery at start finds every announcer, one no worker mentions included", async () => {
    const store = announcer("kvstore-9");
    store.store(10, 11);
    const w = announcer("w2");
    w.store(12);
    await nc.flush();
    const { s } = sync();
    expect((await s.discover()).sort()).toEqual(["kvstore-9", "w2"]);
    expect(indexed(s, "kvstore-9")).toEqual(truth(store.held));
    expect(indexed(s, "w2")).toEqual(truth(w.held));
    s.close();
    store.a.close();
    w.a.close();
  });
});
