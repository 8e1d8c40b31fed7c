// The walk behind PrefixIndex.match: one pass over a prompt's chain through the block table,
// counting each (location, codec lane)'s leading run per tier, and noting the chain's branch
// points (blocks that several chains continue) for LocationMatch.shared. Owns the walk's scratch
// (typed arrays indexed by location id, reused from call to call); allocates nothing per call.
import { bitAt, firstBit } from "./bit-set.js";
import type { BlockHash, PackedHashes } from "./block-hash.js";
import { bitCount16, type BlockTable } from "./block-table.js";
import { RECORD_FIRST, RECORD_REST, RECORD_WORDS, keyWord } from "./record-layout.js";
import { MAX_INDEXED_CODECS, TIER_DEVICE, TIER_HOST, holderCodec, holderLocation, holderTier } from "./holder-code.js";

/** Most codecs one {@link PrefixIndex.match} call may merge. */
export const MAX_MATCH_CODECS = 4;
/** One run state per (location, codec lane): index = location << LANE_BITS | lane. */
const LANE_BITS = 2;
/** Locations the scratch has room for before its first growth. */
const INITIAL_LOCATIONS = 16;

/** Which of the walk's tricks run (false: the plain form, for A/B figures only). */
export interface WalkTricks {
  sameHolderRuns: boolean;
  forkBits: boolean;
  reuseScratch: boolean;
}

/** The match walk over one block table, with its scratch. */
export class MatchWalk {
  // run states, indexed by location << LANE_BITS | lane; `stamp` tells which belong to the current walk
  private runDevice = new Int32Array(INITIAL_LOCATIONS << LANE_BITS);
  private runHost = new Int32Array(INITIAL_LOCATIONS << LANE_BITS);
  private runAny = new Int32Array(INITIAL_LOCATIONS << LANE_BITS);
  private stamp = new Int32Array(INITIAL_LOCATIONS << LANE_BITS);
  /** The states the current walk started, in order. */
  private started = new Int32Array(INITIAL_LOCATIONS << LANE_BITS);
  /** Per codec id, the bit set of lanes counting it (set for the duration of one walk). */
  private readonly laneMask = new Int32Array(MAX_INDEXED_CODECS);
  private epoch = 0;
  /** Chain positions of the branch points the last walk passed, ascending. */
  private branchAt = new Int32Array(64);
  private nBranches = 0;

  /** `branchChildren`: children (signature bits) that make a block a branch point. */
  constructor(
    private readonly table: BlockTable,
    private readonly branchChildren: number,
    private readonly tricks: WalkTricks,
  ) {}

  /** Room for location ids below `locations`. */
  grow(locations: number): void {
    const size = locations << LANE_BITS;
    if (size <= this.stamp.length) return;
    const grown = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.runDevice = grown(this.runDevice);
    this.runHost = grown(this.runHost);
    this.runAny = grown(this.runAny);
    this.stamp = grown(this.stamp);
    this.started = grown(this.started);
  }

  /**
   * Walks `hashes`: lane l (of `nLanes`) counts holders whose codec id is `lanes[l]`; `lanes[0]`
   * = -1 counts any codec (one lane). Returns n, the (location, lane) states that held the first
   * block; read state k < n with {@link locationOf}, {@link deviceOf}, {@link hostOf},
   * {@link anyOf}, valid until the next walk.
   */
  run(hashes: PackedHashes, lanes: Int32Array, nLanes: number): number {
    // A/B (pnpm bench router, ab_walk_scratch_route_p50_ratio): route p50 x2.0-2.3 over fresh arrays per call
    if (!this.tricks.reuseScratch) this.freshScratch();
    const laneMask = this.laneMask;
    const anyCodec = lanes[0] < 0;
    if (!anyCodec) for (let lane = 0; lane < nLanes; lane++) laneMask[lanes[lane]] |= 1 << lane;
    let epoch = this.epoch + 1;
    if (epoch > 0x7fffffff) {
      this.stamp.fill(0);
      epoch = 1;
    }
    this.epoch = epoch;
    try {
      return this.walk(hashes, anyCodec, epoch);
    } finally {
      if (!anyCodec) for (let lane = 0; lane < nLanes; lane++) laneMask[lanes[lane]] = 0;
    }
  }

  /** New scratch arrays (the plain form of reusing them). */
  private freshScratch(): void {
    const size = this.stamp.length;
    this.runDevice = new Int32Array(size);
    this.runHost = new Int32Array(size);
    this.runAny = new Int32Array(size);
    this.stamp = new Int32Array(size);
    this.started = new Int32Array(size);
    this.branchAt = new Int32Array(64);
  }

  /** Location id of started state k. */
  locationOf(k: number): number {
    return this.started[k] >>> LANE_BITS;
  }

  /** Leading blocks state k holds in the device tier. */
  deviceOf(k: number): number {
    return this.runDevice[this.started[k]];
  }

  /** Leading blocks state k holds in device or host. */
  hostOf(k: number): number {
    return this.runHost[this.started[k]];
  }

  /** Leading blocks state k holds in any tier. */
  anyOf(k: number): number {
    return this.runAny[this.started[k]];
  }

  /** Leading blocks of the last walk's chain up to and including its deepest branch point before position `depth`. */
  sharedWithin(depth: number): number {
    const at = this.branchAt;
    let k = this.nBranches;
    while (k > 0 && at[k - 1] >= depth) k--;
    return k === 0 ? 0 : at[k - 1] + 1;
  }

  /**
   * One pass over the chain. A (location, lane) state is running at block i while
   * `runAny === i`; a holder of block i advances it to i + 1 and, by its tier, the device and
   * device-or-host runs if they were still alive. Stops at the first block no state advanced on.
   */
  private walk(hashes: PackedHashes, anyCodec: boolean, epoch: number): number {
    const learn = hashes.chained;
    const { table, runDevice, runHost, runAny, stamp, started, laneMask } = this;
    const recs = table.records;
    const sigs = table.childSignatures;
    const runBits = table.runBits;
    const forkBits = table.forkBits;
    const minChildren = this.branchChildren;
    const { sameHolderRuns, forkBits: useForkBits } = this.tricks;
    let nStarted = 0;
    this.nBranches = 0;
    // block i (record id) is a branch point: note its position
    const branch = (i: number, id: number): void => {
      if (bitCount16(sigs[id]) < minChildren) return;
      if (this.nBranches === this.branchAt.length) {
        const grown = new Int32Array(2 * this.branchAt.length);
        grown.set(this.branchAt);
        this.branchAt = grown;
      }
      this.branchAt[this.nBranches++] = i;
    };
    // one holder h of block i: returns 1 when it moved a state from i to i + 1
    const visit = (h: number, i: number): number => {
      let moved = 0;
      let lanes = anyCodec ? 1 : laneMask[holderCodec(h)];
      const locBase = holderLocation(h) << LANE_BITS;
      const tier = holderTier(h);
      for (let lane = 0; lanes !== 0; lane++, lanes >>>= 1) {
        if ((lanes & 1) === 0) continue;
        const idx = locBase | lane;
        if (stamp[idx] !== epoch) {
          if (i !== 0) continue; // did not hold an earlier block of the chain
          stamp[idx] = epoch;
          runDevice[idx] = 0;
          runHost[idx] = 0;
          runAny[idx] = 0;
          started[nStarted++] = idx;
        }
        const any = runAny[idx];
        if (any === i) {
          runAny[idx] = i + 1;
          moved = 1;
        } else if (any !== i + 1) continue; // its run already ended
        if (tier === TIER_DEVICE && runDevice[idx] === i) runDevice[idx] = i + 1;
        if (tier <= TIER_HOST && runHost[idx] === i) runHost[idx] = i + 1;
      }
      return moved;
    };
    const n = hashes.length;
    const chain = hashes.hashes;
    let id = -1;
    for (let i = 0; i < n;) {
      const next = table.findAfter(chain[i], id);
      if (next < 0) return nStarted;
      const w = next * RECORD_WORDS;
      const first = recs[w + RECORD_FIRST];
      const rest = recs[w + RECORD_REST];
      // blocks i - 1 and i in consecutive records: with a true chain, the second is the first's child
      const follows = i > 0 && next === id + 1;
      if (learn && follows) table.learnLink(next);
      // A/B (pnpm bench router, ab_same_holder_runs_route_p50_ratio): route p50 x3.1-3.7 over visiting every block's holders
      if (
        sameHolderRuns &&
        follows &&
        first === recs[w - RECORD_WORDS + RECORD_FIRST] &&
        table.sameRest(rest, recs[w - RECORD_WORDS + RECORD_REST])
      ) {
        // Block i sits in the record after block i - 1's with the same holders, so every state
        // moves exactly as it did on block i - 1. Extend over the whole run of such records, then
        // move those states once.
        const limit = Math.min(n, i + table.capacity - next);
        let end: number;
        // A/B (pnpm bench router, ab_run_skip_route_p50_ratio): route p50 x1.7-1.8 over comparing every key (an index stored without links)
        if (bitAt(runBits, next)) {
          // Records next.. are linked one to the next with the same holders (their run bits):
          // block i + k matches record next + k only if every block before it does (the hashes
          // are chained), so the last record that matches is found by its key alone, checking
          // the run's last record and, only when the query leaves the run, the ones before it.
          const len = firstBit(runBits, next, next + (limit - i), false) - next;
          end = i + matchedInRun(recs, chain, next, i, len);
        } else {
          // not linked (a snapshot's blocks, until a walk with a true chain links them): every key is compared
          // (a record with these holders is in use, so it holds the key it shows)
          end = i + 1;
          let r = w + RECORD_WORDS;
          while (
            end < limit &&
            recs[r + RECORD_FIRST] === first &&
            (recs[r + RECORD_REST] === rest || (rest < -1 && table.sameRest(recs[r + RECORD_REST], rest))) &&
            sameKey(recs, chain, next + (end - i), end)
          ) {
            end++;
            r += RECORD_WORDS;
          }
          // keys compared one after the other: with a true chain, each record is the last one's child
          if (learn) for (let k = next + 1; k < next + (end - i); k++) table.learnLink(k);
        }
        const last = next + (end - i - 1);
        // A/B (pnpm bench router, ab_fork_bits_route_p50_ratio): route p50 x1.29-1.33 over reading every passed record's signature
        if (useForkBits)
          for (let k = firstBit(forkBits, next, last + 1, true); k <= last; k = firstBit(forkBits, k + 1, last + 1, true))
            branch(i + (k - next), k);
        else for (let k = next; k <= last; k++) branch(i + (k - next), k);
        for (let k = 0; k < nStarted; k++) {
          const idx = started[k];
          if (runAny[idx] !== i) continue;
          runAny[idx] = end;
          if (runDevice[idx] === i) runDevice[idx] = end;
          if (runHost[idx] === i) runHost[idx] = end;
        }
        i = end;
        id = last;
        continue;
      }
      let moved = visit(first, i);
      if (rest >= 0) moved |= visit(rest, i);
      else if (rest < -1) {
        const list = table.overflowOf(rest);
        for (let j = 0; j < list.length; j++) moved |= visit(list[j], i);
      }
      if (moved === 0) return nStarted;
      if (!useForkBits || bitAt(forkBits, next)) branch(i, next);
      id = next;
      i++;
    }
    return nStarted;
  }
}

/**
 * How many of blocks i, i + 1, .. (at most `len`) of the query match records next, next + 1, ..,
 * a run of linked records whose first matches: the matches are a prefix of the run (chained
 * hashes), so when the run's last key matches, all do.
 */
function matchedInRun(recs: Int32Array, chain: readonly BlockHash[], next: number, i: number, len: number): number {
  if (sameKey(recs, chain, next + len - 1, i + len - 1)) return len;
  let k = 1;
  while (k < len - 1 && sameKey(recs, chain, next + k, i + k)) k++;
  return k;
}

/** Whether record `rec` holds the query's block `block`. */
function sameKey(recs: Int32Array, chain: readonly BlockHash[], rec: number, block: number): boolean {
  const r = rec * RECORD_WORDS;
  const h = chain[block];
  return recs[r] === keyWord(h, 0) && recs[r + 1] === keyWord(h, 4) && recs[r + 2] === keyWord(h, 8) && recs[r + 3] === keyWord(h, 12);
}
