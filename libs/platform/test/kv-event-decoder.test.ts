// The hand-written KvEventBatch decoder against the generated one (plus batchFromWire): random
// batches, and the unusual but valid encodings (unknown fields, repeated scalars, several oneof
// members, non-ASCII ids); random and cut bytes never hang it and fail with its own error.
import { KvEventBatch, Tier, type KvEvent } from "@kvtier/proto";
import { KvEventDecodeError, decodeKvEventBatch, seededUniform, type KvIndexBatch } from "@kvtier/kv-router";
import { describe, expect, it } from "vitest";
import { batchFromWire } from "../src/wire-events.js";

const rng = seededUniform;

/** Plain arrays instead of Uint8Array views, so the two sides compare by content. */
function plain(b: KvIndexBatch): unknown {
  return JSON.parse(JSON.stringify(b, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

function randomBatch(r: () => number): KvEventBatch {
  const int = (n: number): number => Math.floor(r() * n);
  const hash = (): Uint8Array => Uint8Array.from({ length: r() < 0.05 ? int(20) : 16 }, () => int(256));
  const events: KvEvent[] = Array.from({ length: int(6) }, (): KvEvent => {
    const medium = int(5) as Tier; // 4 is not a tier
    const codec = ["raw", "fp16", "kivi2-g32-f16", "", "ü-codec"][int(5)];
    const k = int(3);
    if (k === 0) return { event: { $case: "stored", value: { blockHashes: Array.from({ length: int(18) }, hash), parentBlockHash: r() < 0.5 ? hash() : new Uint8Array(0), blockSize: int(64), medium, codec } } };
    if (k === 1) return { event: { $case: "removed", value: { blockHashes: Array.from({ length: int(18) }, hash), medium, codec } } };
    return { event: { $case: "cleared", value: { medium } } };
  });
  return { announcerId: ["worker-1", "kvstore-node-1", "wörker", ""][int(4)], incarnation: `inc-${int(1000)}`, seq: int(2 ** 40), ts: r() * 1e9, events, snapshot: r() < 0.3 };
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const field = (no: number, wt: number, payload: number[]): number[] => [...varint(no * 8 + wt), ...payload];
const len = (bytes: number[]): number[] => [...varint(bytes.length), ...bytes];

describe("decodeKvEventBatch", () => {
  it("equals the generated decoder plus batchFromWire on random batches", () => {
    const r = rng(42);
    for (let i = 0; i < 2000; i++) {
      const bytes = KvEventBatch.encode(randomBatch(r)).finish();
      expect(plain(decodeKvEventBatch(bytes)), `batch ${i}`).toEqual(plain(batchFromWire(KvEventBatch.decode(bytes))));
    }
  });

  it("follows the wire rules on unusual encodings", () => {
    const stored = KvEventBatch.encode({ announcerId: "", incarnation: "", seq: 0, ts: 0, snapshot: false, events: [{ event: { $case: "stored", value: { blockHashes: [new Uint8Array(16).fill(7)], parentBlockHash: new Uint8Array(0), blockSize: 16, medium: Tier.TIER_HOST, codec: "fp16" } } }] }).finish();
    const cases: number[][] = [
      // unknown fields of every wire type around known ones; the last seq and announcer win
      [...field(99, 0, varint(5)), ...field(1, 2, len([0x61])), ...field(98, 1, [1, 2, 3, 4, 5, 6, 7, 8]), ...field(3, 0, varint(7)), ...field(97, 5, [1, 2, 3, 4]), ...field(3, 0, varint(9)), ...field(1, 2, len([0x62, 0x63])), ...stored],
      // one KvEvent holding removed then cleared: the last oneof member wins
      [...field(5, 2, len([...field(2, 2, len([...field(1, 2, len(Array(16).fill(1))), ...field(2, 0, varint(1))])), ...field(3, 2, len(field(1, 0, varint(3))))]))],
      // a known field with the wrong wire type is skipped
      [...field(3, 2, len([1, 2, 3])), ...field(6, 0, varint(1))],
      // tag 0 ends the message
      [...field(3, 0, varint(4)), 0, ...field(3, 0, varint(8))],
    ];
    for (const bytes of cases) {
      const u = Uint8Array.from(bytes);
      expect(plain(decodeKvEventBatch(u))).toEqual(plain(batchFromWire(KvEventBatch.decode(u))));
    }
  });

  it("fails on random and cut bytes with its own error, never hangs", () => {
    const r = rng(7);
    const good = KvEventBatch.encode(randomBatch(rng(1))).finish();
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 2 === 0 ? Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)) : good.subarray(0, Math.floor(r() * good.length));
      try {
        decodeKvEventBatch(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(KvEventDecodeError);
      }
    }
  });
});
