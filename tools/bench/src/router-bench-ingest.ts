// Event ingest for the router benchmark: a steady stream of protobuf KvEventBatch messages from
// 64 announcers, each event carrying 1 to 16 blocks: stores of new blocks until an announcer holds
// STEADY_BLOCKS_PER_ANNOUNCER, then stores and removals of its oldest blocks at random, half and
// half, so the index keeps its size (about 1.26M blocks over the 1M of the deployment).
// Timed: decoding (the router's decodeKvEventBatch: the generated decoder, then batchFromWire)
// and IndexFeed.accept, exactly the router's path minus NATS; also decoding alone. Each pass goes through a fresh feed and
// is drained afterwards, untimed (removals of every block it left), so the same stream can be
// timed again over the same index: the bench reports the median of its passes.
import { IndexFeed, type PrefixIndex } from "@kvtier/kv-router";
import { KvEventBatch, Tier, type KvEvent } from "@kvtier/proto";
import { decodeKvEventBatch } from "@kvtier/platform";
import { BENCH_WORKERS, workerId } from "./router-bench-index.js";

/** Blocks per event: uniform in [1, MAX_BLOCKS_PER_EVENT]. */
const MAX_BLOCKS_PER_EVENT = 16;
/** Events per batch (what an announcer flushes in one tick). */
export const EVENTS_PER_BATCH = 4;
/** Blocks each announcer of the stream holds in steady state (stores and removals then balance). */
const STEADY_BLOCKS_PER_ANNOUNCER = 4096;

/** Pre-encoded batches and the block operations they carry. */
export interface EventStream {
  messages: Uint8Array[];
  blockOps: number;
  /** Batches, numbered after `messages`, removing every block the stream leaves (not timed). */
  drain: Uint8Array[];
}

/** Blocks per removal event of the drain. */
const DRAIN_BLOCKS_PER_EVENT = 256;

/** About `blockOps` block operations as encoded batches, numbered per worker from seq 1 of a fresh incarnation. */
export function makeEventStream(blockOps: number, seed = 7): EventStream {
  let s = seed >>> 0;
  // the LCG's high bits: its low bits repeat with short periods (bit 0 alternates)
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
  const seq = new Array<number>(BENCH_WORKERS).fill(0);
  const live: Uint8Array[][] = Array.from({ length: BENCH_WORKERS }, () => []);
  let next = 0;
  const fresh = (): Uint8Array => {
    const h = new Uint8Array(16);
    const v = new DataView(h.buffer);
    v.setUint32(0, next * 2654435761, true);
    v.setUint32(4, next, true);
    v.setUint32(8, 0xbeef0000 ^ next, true);
    v.setUint32(12, 0x5eed, true);
    next++;
    return h;
  };
  const messages: Uint8Array[] = [];
  let ops = 0;
  while (ops < blockOps) {
    const w = rnd(BENCH_WORKERS);
    const events: KvEvent[] = [];
    for (let e = 0; e < EVENTS_PER_BATCH; e++) {
      const n = 1 + rnd(MAX_BLOCKS_PER_EVENT);
      const pool = live[w];
      // fill up to the steady size, then remove as often as store, so the index keeps its size
      if (pool.length >= STEADY_BLOCKS_PER_ANNOUNCER && rnd(2) === 0) {
        const hashes = pool.splice(0, n);
        events.push({ event: { $case: "removed", value: { blockHashes: hashes, medium: Tier.TIER_DEVICE, codec: "raw" } } });
      } else {
        const hashes = Array.from({ length: n }, fresh);
        pool.push(...hashes);
        events.push({
          event: {
            $case: "stored",
            value: { blockHashes: hashes, parentBlockHash: new Uint8Array(0), blockSize: 16, medium: Tier.TIER_DEVICE, codec: "raw" },
          },
        });
      }
      ops += n;
    }
    seq[w] += 1;
    messages.push(encodeBatch(w, seq[w], events));
  }
  const drain: Uint8Array[] = [];
  for (let w = 0; w < BENCH_WORKERS; w++) {
    for (let i = 0; i < live[w].length; i += DRAIN_BLOCKS_PER_EVENT) {
      const hashes = live[w].slice(i, i + DRAIN_BLOCKS_PER_EVENT);
      seq[w] += 1;
      drain.push(
        encodeBatch(w, seq[w], [{ event: { $case: "removed", value: { blockHashes: hashes, medium: Tier.TIER_DEVICE, codec: "raw" } } }]),
      );
    }
  }
  return { messages, blockOps: ops, drain };
}

function encodeBatch(w: number, seq: number, events: KvEvent[]): Uint8Array {
  return KvEventBatch.encode({ announcerId: `${workerId(w)}-ev`, incarnation: "bench-1", seq, ts: 0, events, snapshot: false }).finish();
}

/**
 * Seconds to decode, convert and apply `stream` to a fresh feed over `index`; then, untimed, the
 * stream's drain, which leaves `index` as it was (so the stream can be timed again).
 */
export function timeIngest(index: PrefixIndex, stream: EventStream): number {
  const feed = new IndexFeed(index);
  const t0 = process.hrtime.bigint();
  for (const m of stream.messages) feed.accept(decodeKvEventBatch(m));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const m of stream.drain) feed.accept(decodeKvEventBatch(m));
  return s;
}

/** Seconds to decode `stream` alone, the best of three passes (the first also compiles the decoder). */
export function timeDecodeOnly(stream: EventStream): number {
  let sink = 0;
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = process.hrtime.bigint();
    for (const m of stream.messages) sink += decodeKvEventBatch(m).events.length;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  if (sink < 0) throw new Error("unreachable");
  return best;
}
