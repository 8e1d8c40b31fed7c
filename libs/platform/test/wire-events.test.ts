// KV event batches as the router ingests them (decodeKvEventBatch: the generated decoder, then
// batchFromWire): every field reaches the domain form on random batches, a medium maps to its tier
// (an unknown one drops the event; a clear without one clears every tier), and bytes cut inside a
// field are refused with an error rather than read as a shorter batch.
import { KvEventBatch, Tier, type KvEvent } from "@kvtier/proto";
import { seededUniform, type KvIndexBatch, type KvIndexEvent } from "@kvtier/kv-router";
import { describe, expect, it } from "vitest";
import { decodeKvEventBatch } from "../src/wire-events.js";

const TIER_NAME: Partial<Record<Tier, "device" | "host" | "ssd">> = {
  [Tier.TIER_DEVICE]: "device",
  [Tier.TIER_HOST]: "host",
  [Tier.TIER_SSD]: "ssd",
};

function randomBatch(r: () => number): KvEventBatch {
  const int = (n: number): number => Math.floor(r() * n);
  const hash = (): Uint8Array => Uint8Array.from({ length: 16 }, () => int(256));
  const events: KvEvent[] = Array.from({ length: int(6) }, (): KvEvent => {
    const medium = int(5) as Tier; // 0 is unspecified, 4 is not a tier
    const codec = ["raw", "fp16", "kivi2-g32-f16", "ü-codec"][int(4)];
    const k = int(3);
    if (k === 0)
      return {
        event: {
          $case: "stored",
          value: {
            blockHashes: Array.from({ length: 1 + int(17) }, hash),
            parentBlockHash: r() < 0.5 ? hash() : new Uint8Array(0),
            blockSize: 16,
            medium,
            codec,
          },
        },
      };
    if (k === 1) return { event: { $case: "removed", value: { blockHashes: Array.from({ length: 1 + int(17) }, hash), medium, codec } } };
    return { event: { $case: "cleared", value: { medium } } };
  });
  return {
    announcerId: ["worker-1", "kvstore-node-1", "wörker"][int(3)],
    incarnation: `inc-${int(1000)}`,
    seq: 1 + int(2 ** 40),
    ts: r() * 1e9,
    events,
    snapshot: r() < 0.3,
  };
}

/** The domain events a wire batch should give, written out independently of batchFromWire. */
function expectedEvents(b: KvEventBatch): unknown[] {
  const out: unknown[] = [];
  for (const { event } of b.events) {
    if (event === undefined) continue;
    const tier = TIER_NAME[event.value.medium];
    if (event.$case === "cleared") {
      out.push(
        tier === undefined && event.value.medium === Tier.TIER_UNSPECIFIED
          ? { kind: "cleared" }
          : tier === undefined
            ? null
            : { kind: "cleared", tier },
      );
      continue;
    }
    if (tier === undefined) continue;
    const hashes = event.value.blockHashes.map((h) => Array.from(h));
    if (event.$case === "stored") {
      const parent = event.value.parentBlockHash.length > 0 ? Array.from(event.value.parentBlockHash) : undefined;
      out.push({ kind: "stored", tier, codec: event.value.codec, hashes, ...(parent ? { parent } : {}) });
    } else out.push({ kind: "removed", tier, codec: event.value.codec, hashes });
  }
  return out.filter((e) => e !== null);
}

/** A domain event with its hashes as plain arrays, keeping only the fields the wire carries. */
function plainEvent(e: KvIndexEvent): unknown {
  if (e.kind === "cleared") return e.tier === undefined ? { kind: "cleared" } : { kind: "cleared", tier: e.tier };
  const hashes = e.hashes.map((h) => Array.from(h));
  if (e.kind === "stored")
    return { kind: "stored", tier: e.tier, codec: e.codec, hashes, ...(e.parent ? { parent: Array.from(e.parent) } : {}) };
  return { kind: "removed", tier: e.tier, codec: e.codec, hashes };
}

describe("decodeKvEventBatch", () => {
  it("carries every field of random batches into the domain form, tiers mapped and unknown media dropped", () => {
    const r = seededUniform(42);
    for (let i = 0; i < 500; i++) {
      const wire = randomBatch(r);
      const got: KvIndexBatch = decodeKvEventBatch(KvEventBatch.encode(wire).finish());
      expect({ announcerId: got.announcerId, incarnation: got.incarnation, seq: got.seq, snapshot: got.snapshot }, `batch ${i}`).toEqual({
        announcerId: wire.announcerId,
        incarnation: wire.incarnation,
        seq: wire.seq,
        snapshot: wire.snapshot,
      });
      expect(got.events.map(plainEvent), `batch ${i}`).toEqual(expectedEvents(wire));
    }
  });

  it("refuses bytes cut inside a block hash", () => {
    const wire = randomBatch(seededUniform(1));
    wire.events = [
      {
        event: {
          $case: "stored",
          value: {
            blockHashes: [new Uint8Array(16).fill(7)],
            parentBlockHash: new Uint8Array(0),
            blockSize: 16,
            medium: Tier.TIER_HOST,
            codec: "fp16",
          },
        },
      },
    ];
    const bytes = KvEventBatch.encode(wire).finish();
    const at = bytes.lastIndexOf(7) - 3; // inside the hash's 16 bytes
    expect(() => decodeKvEventBatch(bytes.subarray(0, at))).toThrow();
  });
});
