// IndexFeed: the index converges to each announcer's true state through lost, repeated and late
// batches, restarts and snapshots that race with deltas.
import { describe, expect, it } from "vitest";
import { hashHex, type BlockHash } from "../src/block-hash.js";
import { IndexFeed, MAX_BUFFERED_BATCHES } from "../src/index-feed.js";
import type { KvIndexBatch, KvIndexEvent } from "../src/kv-event.js";
import { PrefixIndexError } from "../src/errors.js";
import { mulberry32, randInt } from "./support/prng.js";

const h = (n: number): BlockHash => {
  const out = new Uint8Array(16);
  new DataView(out.buffer).setUint32(0, n, true);
  out[15] = 0x5a;
  return out;
};

/** An announcer with a true state (device tier, codec "raw") that numbers its batches. */
class FakeAnnouncer {
  readonly held = new Set<number>();
  seq = 0;
  constructor(
    readonly id: string,
    public incarnation: string,
  ) {}

  /** A random delta: store a few new or old blocks, or remove some held ones. */
  delta(rng: () => number): KvIndexBatch {
    const events: KvIndexEvent[] = [];
    for (let e = 0; e < 1 + randInt(rng, 3); e++) {
      if (rng() < 0.6 || this.held.size === 0) {
        const ids = Array.from({ length: 1 + randInt(rng, 6) }, () => randInt(rng, 200));
        ids.forEach((i) => this.held.add(i));
        events.push({ kind: "stored", tier: "device", codec: "raw", hashes: ids.map(h) });
      } else {
        const ids = [...this.held].filter(() => rng() < 0.3);
        ids.forEach((i) => this.held.delete(i));
        events.push({ kind: "removed", tier: "device", codec: "raw", hashes: ids.map(h) });
      }
    }
    return { announcerId: this.id, incarnation: this.incarnation, seq: ++this.seq, snapshot: false, events };
  }

  snapshot(): KvIndexBatch {
    return {
      announcerId: this.id,
      incarnation: this.incarnation,
      seq: this.seq,
      snapshot: true,
      events: [{ kind: "stored", tier: "device", codec: "raw", hashes: [...this.held].map(h) }],
    };
  }

  restart(incarnation: string): void {
    this.incarnation = incarnation;
    this.seq = 0;
    this.held.clear();
  }

  truth(): string[] {
    return [...this.held].map((i) => hashHex(h(i))).sort();
  }
}

const indexed = (feed: IndexFeed, id: string): string[] => feed.index.snapshot(id).map((b) => b.hashHex);

describe("IndexFeed", () => {
  it("applies contiguous deltas and reaches the announcer's state", () => {
    const rng = mulberry32(1);
    const feed = new IndexFeed();
    const a = new FakeAnnouncer("w1", "inc-1");
    for (let i = 0; i < 200; i++) expect(feed.accept(a.delta(rng)).snapshotNeeded).toBe(false);
    expect(indexed(feed, "w1")).toEqual(a.truth());
  });

  it("converges through lost and repeated batches and snapshots racing with deltas", () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const rng = mulberry32(seed);
      const feed = new IndexFeed();
      const a = new FakeAnnouncer("w1", "inc-1");
      // a snapshot request in flight: answered this many deltas after it was sent
      let inFlight: { dueIn: number } | undefined;
      let last: KvIndexBatch | undefined;
      let lost = 0;
      for (let step = 0; step < 2000; step++) {
        const b = a.delta(rng);
        const r = rng();
        let outcome;
        if (r < 0.1) {
          lost++; // dropped on the way
        } else {
          outcome = feed.accept(b);
          if (r > 0.95 && last) feed.accept(last); // a redelivered old batch
        }
        last = b;
        if (outcome?.snapshotNeeded && !inFlight) {
          feed.beginSnapshot("w1");
          inFlight = { dueIn: randInt(rng, 5) };
        }
        if (inFlight && inFlight.dueIn-- <= 0) {
          inFlight = undefined;
          // the reply can be lost too; then the feed is told the request failed
          if (rng() < 0.2) feed.abortSnapshot("w1");
          else feed.applySnapshot(a.snapshot());
        }
        if (!inFlight && feed.announcersNeedingSnapshot().includes("w1")) {
          feed.beginSnapshot("w1");
          inFlight = { dueIn: randInt(rng, 5) };
        }
      }
      // quiesce: let the last request come back
      if (inFlight) feed.applySnapshot(a.snapshot());
      if (feed.snapshotNeeded("w1")) {
        feed.beginSnapshot("w1");
        feed.applySnapshot(a.snapshot());
      }
      expect(lost).toBeGreaterThan(100);
      expect(feed.counters.gaps).toBeGreaterThan(0);
      expect(feed.snapshotNeeded("w1"), `seed ${seed}`).toBe(false);
      expect(indexed(feed, "w1"), `seed ${seed}`).toEqual(a.truth());
    }
  });

  it("replays deltas buffered during the snapshot over it (nothing published meanwhile is lost)", () => {
    const rng = mulberry32(9);
    const feed = new IndexFeed();
    const a = new FakeAnnouncer("w1", "inc-1");
    for (let i = 0; i < 5; i++) feed.accept(a.delta(rng));
    a.delta(rng); // lost
    expect(feed.accept(a.delta(rng)).snapshotNeeded).toBe(true);
    feed.beginSnapshot("w1");
    const snap = a.snapshot(); // taken now...
    for (let i = 0; i < 10; i++) expect(feed.accept(a.delta(rng)).snapshotNeeded).toBe(false); // ...these arrive before the reply
    const out = feed.applySnapshot(snap);
    expect(out).toEqual({ verdict: "apply", snapshotNeeded: false });
    expect(indexed(feed, "w1")).toEqual(a.truth());
  });

  it("a router joining mid-stream owes a snapshot, and the snapshot completes the state", () => {
    const rng = mulberry32(3);
    const a = new FakeAnnouncer("w1", "inc-1");
    for (let i = 0; i < 50; i++) a.delta(rng);
    const feed = new IndexFeed();
    feed.beginSnapshot("w1"); // catch-up at start, before any batch
    const snap = a.snapshot();
    const out = feed.accept(a.delta(rng));
    expect(out.verdict).toBe("restart");
    expect(out.snapshotNeeded).toBe(false); // one is in flight
    feed.applySnapshot(snap);
    expect(indexed(feed, "w1")).toEqual(a.truth());
  });

  it("a restart while the snapshot is in flight makes the old incarnation's snapshot stale", () => {
    const rng = mulberry32(4);
    const feed = new IndexFeed();
    const a = new FakeAnnouncer("w1", "inc-1");
    feed.accept(a.delta(rng));
    a.delta(rng); // lost
    feed.accept(a.delta(rng));
    feed.beginSnapshot("w1");
    const old = a.snapshot();
    a.restart("inc-2");
    const first = a.delta(rng);
    expect(feed.accept(first).verdict).toBe("restart");
    expect(feed.applySnapshot(old).verdict).toBe("stale-snapshot");
    expect(indexed(feed, "w1")).toEqual(a.truth());
    expect(feed.snapshotNeeded("w1")).toBe(false); // seq 1 of a new incarnation is its whole history
  });

  it("a buffer overflow during a snapshot leaves another snapshot owed", () => {
    const rng = mulberry32(5);
    const feed = new IndexFeed();
    const a = new FakeAnnouncer("w1", "inc-1");
    feed.accept(a.delta(rng));
    feed.beginSnapshot("w1");
    const snap = a.snapshot();
    for (let i = 0; i <= MAX_BUFFERED_BATCHES; i++) feed.accept(a.delta(rng));
    expect(feed.counters.bufferOverflows).toBe(1);
    expect(feed.applySnapshot(snap).snapshotNeeded).toBe(true);
    feed.beginSnapshot("w1");
    feed.applySnapshot(a.snapshot());
    expect(indexed(feed, "w1")).toEqual(a.truth());
  });

  it("a snapshot reply for a forgotten announcer is ignored", () => {
    const rng = mulberry32(6);
    const feed = new IndexFeed();
    const a = new FakeAnnouncer("w1", "inc-1");
    feed.accept(a.delta(rng));
    feed.beginSnapshot("w1");
    feed.forget("w1");
    expect(feed.applySnapshot(a.snapshot()).verdict).toBe("stale-snapshot");
    expect(feed.index.locations()).toEqual([]);
  });

  it("refuses a malformed batch before changing anything", () => {
    const feed = new IndexFeed();
    feed.accept({
      announcerId: "w1",
      incarnation: "i",
      seq: 1,
      snapshot: false,
      events: [{ kind: "stored", tier: "device", codec: "raw", hashes: [h(1)] }],
    });
    const bad: KvIndexBatch = {
      announcerId: "w1",
      incarnation: "i",
      seq: 2,
      snapshot: false,
      events: [
        { kind: "stored", tier: "device", codec: "raw", hashes: [h(2)] },
        { kind: "removed", tier: "device", codec: "raw", hashes: [new Uint8Array(15)] },
      ],
    };
    expect(() => feed.accept(bad)).toThrow(PrefixIndexError);
    expect(() => feed.accept({ ...bad, events: [{ kind: "stored", tier: "gpu" as never, codec: "raw", hashes: [] }] })).toThrow(/tier/);
    expect(() => feed.accept({ ...bad, seq: 0 })).toThrow(/seq/);
    expect(feed.index.blockCount()).toBe(1);
    // the refused seq 2 shows up as a gap when seq 3 arrives
    expect(feed.accept({ announcerId: "w1", incarnation: "i", seq: 3, snapshot: false, events: [] }).snapshotNeeded).toBe(true);
  });
});
