// Which locations (worker device pools, kvstores) hold each chained block, in which tier and codec,
// fed by KV events (DESIGN.md §4, §7) and queried for the leading run of a prompt's blocks.
// Does not sequence events (index-feed.ts, announcer-tracker.ts), choose workers (routing-cost.ts)
// or hash tokens.
//
// Layout, chosen for memory and for walking chains: one record per distinct block in typed arrays,
// found through an open-addressing table over the 128-bit hashes (block-table.ts), listing the
// (location, tier, codec) triples holding it; a chain stored in order sits in consecutive records,
// so a walk reads it sequentially. A holder packs an interned location id, codec id and tier into
// one small integer.
// Clearing or forgetting a location scans the records (rare: a restart, a snapshot, a dead worker)
// instead of keeping a per-location reverse set, which cost more than the table itself.
import { randomInt } from "node:crypto";
import { assertBlockHash, assertBlockHashes, BLOCK_HASH_BYTES, PackedHashes, type BlockHash } from "./block-hash.js";
import { bitCount16, BlockTable, RECORD_FIRST, RECORD_REST, RECORD_WORDS } from "./block-table.js";
import { PrefixIndexError } from "./errors.js";
import type { LocationMatch } from "./location-match.js";
import { TIERS, type Tier } from "./tier.js";

/** Most locations indexed at once (ids of forgotten locations are reused). */
export const MAX_INDEXED_LOCATIONS = 1 << 20;
/** Most distinct codec ids ever indexed by one PrefixIndex. */
export const MAX_INDEXED_CODECS = 1 << 8;
/** Longest accepted location id or codec id, in UTF-16 code units. */
export const MAX_ID_CHARS = 256;
/** Updates touch this many blocks' table slots ahead, so their cache misses overlap. */
const TOUCH_AHEAD_BLOCKS = 32;
/** Most codecs one {@link PrefixIndex.match} call may merge. */
export const MAX_MATCH_CODECS = 4;

/** One (block, tier, codec) a location holds, as {@link PrefixIndex.snapshot} lists it. */
export interface HeldBlock {
  hashHex: string;
  tier: Tier;
  codec: string;
}

// holder = location << LOCATION_SHIFT | codec << CODEC_SHIFT | tier: 20 + 8 + 2 = 30 bits, a Smi.
const TIER_MASK = 0b11;
const CODEC_SHIFT = 2;
const CODEC_MASK = MAX_INDEXED_CODECS - 1;
const LOCATION_SHIFT = 10;
const TIER_DEVICE = 0;
const TIER_HOST = 1;

const holderLocation = (h: number): number => h >>> LOCATION_SHIFT;
/** match() keeps one run state per (location, codec lane): index = location << LANE_BITS | lane. */
const LANE_BITS = 2;

function tierIndex(tier: Tier, field: string): number {
  const t = TIERS.indexOf(tier);
  if (t < 0) throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be one of ${TIERS.join(", ")}, got ${String(tier)}`);
  return t;
}

function assertId(value: string, field: string): void {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_CHARS) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be a string of 1 to ${MAX_ID_CHARS} characters`);
  }
}

/** Options of a {@link PrefixIndex}. */
export interface PrefixIndexOptions {
  /**
   * Keys the table's slot function. Give one only for reproducible tests.
   * @default a random 31-bit integer per index
   */
  seed?: number;
  /**
   * A block with at least this many distinct children (blocks stored right after it in some
   * chain) is a branch point, and a match's {@link LocationMatch.shared} prefix runs through the
   * deepest one: a system prompt that many sessions continue is shared, a session's own context
   * is not. Children are counted by a 16-bit signature (block-table.ts), so two of them may count
   * as one. Integer in [2, 16].
   * @default DEFAULT_SHARED_PREFIX_CHILDREN
   */
  sharedPrefixChildren?: number;
}

/** Default {@link PrefixIndexOptions.sharedPrefixChildren}. */
export const DEFAULT_SHARED_PREFIX_CHILDREN = 3;

/** One (block, location, tier, codec) entry, as {@link PrefixIndex.forEachHeld} visits it. */
export type HeldVisitor = (hash: BlockHash, location: string, tier: Tier, codec: string) => void;

/**
 * An index over chained block hashes of which locations hold each block, in which tier and codec.
 * A location is a worker id (its device pool) or a kvstore id (its host and SSD tiers). All
 * updates are idempotent; removing what is not held is a no-op. Every method validates its input
 * before changing anything, so a refused call leaves the index as it was.
 */
export class PrefixIndex {
  private readonly table: BlockTable;
  private readonly locationIds = new Map<string, number>();
  private readonly locationNames: string[] = [];
  /** Per location id: holder entries (block × tier × codec) it has in the table. */
  private heldEntries: Float64Array = new Float64Array(16);
  private readonly freeLocationIds: number[] = [];
  private readonly codecIds = new Map<string, number>();
  private readonly codecNames: string[] = [];
  // match() scratch, indexed by location id; `stamp` tells which entries belong to the current call
  private runDevice: Int32Array = new Int32Array(16 << LANE_BITS);
  private runHost: Int32Array = new Int32Array(16 << LANE_BITS);
  private runAny: Int32Array = new Int32Array(16 << LANE_BITS);
  private stamp: Int32Array = new Int32Array(16 << LANE_BITS);
  private started: Int32Array = new Int32Array(16 << LANE_BITS);
  private readonly laneCodecs = new Int32Array(MAX_MATCH_CODECS);
  /** Per codec id, the bit set of match lanes counting it (set for the duration of one match). */
  private readonly laneMask = new Int32Array(MAX_INDEXED_CODECS);
  private epoch = 0;
  /** match() scratch: chain positions of the branch points the walk passed, ascending. */
  private branchAt: Int32Array = new Int32Array(64);
  private nBranches = 0;
  private readonly branchChildren: number;

  constructor(options: PrefixIndexOptions = {}) {
    const children = options.sharedPrefixChildren ?? DEFAULT_SHARED_PREFIX_CHILDREN;
    if (!Number.isSafeInteger(children) || children < 2 || children > 16) {
      throw new PrefixIndexError("INVALID_ARGUMENT", "sharedPrefixChildren", `sharedPrefixChildren must be an integer in [2, 16], got ${children}`);
    }
    this.branchChildren = children;
    this.table = new BlockTable(options.seed ?? randomInt(0, 2 ** 31 - 1));
  }

  /**
   * Records that `location` holds `hashes` in `tier`, encoded with `codec` (a BlockStored event).
   * `hashes` are in chain order (each block's parent is the one before it, the first one's is
   * `parent`), as a worker's stored events are: each link is recorded as the parent's child, for
   * {@link LocationMatch.shared}. Pass `links: false` for lists that are not chains (a snapshot's
   * held blocks); their blocks are indexed all the same.
   * @throws {PrefixIndexError} on a bad argument, or `CAPACITY_EXCEEDED` when the location or
   * codec tables are full.
   */
  applyStored(location: string, tier: Tier, codec: string, hashes: readonly BlockHash[], parent?: BlockHash, links = true): void {
    assertId(location, "location");
    assertId(codec, "codec");
    const t = tierIndex(tier, "tier");
    if (parent !== undefined) assertBlockHash(parent, "parent");
    assertBlockHashes(hashes, "hashes");
    if (hashes.length === 0) return;
    const c = this.internCodec(codec);
    const loc = this.internLocation(location);
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    let added = 0;
    let prev = -1;
    const table = this.table;
    const parentId = links && parent !== undefined ? table.find(parent) : -1;
    for (let i = 0; i < hashes.length; i++) {
      if (i % TOUCH_AHEAD_BLOCKS === 0) table.touchMany(hashes, i, Math.min(hashes.length, i + TOUCH_AHEAD_BLOCKS));
      const id = table.addHolder(hashes[i], holder, prev);
      if (id >= 0) added++;
      const rec = id >= 0 ? id : ~id;
      if (links) {
        const up = i === 0 ? parentId : prev;
        if (up >= 0) table.linkChild(up, rec);
      }
      prev = rec;
    }
    this.heldEntries[loc] += added;
  }

  /** Records that `location` no longer holds `hashes` in `tier` with `codec` (a BlockRemoved event). */
  applyRemoved(location: string, tier: Tier, codec: string, hashes: readonly BlockHash[]): void {
    assertId(location, "location");
    assertId(codec, "codec");
    const t = tierIndex(tier, "tier");
    assertBlockHashes(hashes, "hashes");
    const loc = this.locationIds.get(location);
    const c = this.codecIds.get(codec);
    if (loc === undefined || c === undefined) return;
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    let removed = 0;
    let prev = -1;
    for (let i = 0; i < hashes.length; i++) {
      if (i % TOUCH_AHEAD_BLOCKS === 0) this.table.touchMany(hashes, i, Math.min(hashes.length, i + TOUCH_AHEAD_BLOCKS));
      const id = this.table.findAfter(hashes[i], prev);
      if (id >= 0 && this.table.removeHolder(id, holder) !== 0) removed++;
      prev = id;
    }
    this.heldEntries[loc] -= removed;
    this.releaseIfEmpty(loc);
  }

  /** Drops everything `location` holds in `tier`, or in every tier when `tier` is omitted (AllBlocksCleared). */
  applyCleared(location: string, tier?: Tier): void {
    assertId(location, "location");
    const t = tier === undefined ? -1 : tierIndex(tier, "tier");
    const loc = this.locationIds.get(location);
    if (loc === undefined) return;
    const drop = t < 0 ? (h: number) => holderLocation(h) === loc : (h: number) => holderLocation(h) === loc && (h & TIER_MASK) === t;
    const removed = (): void => {
      this.heldEntries[loc] -= 1;
    };
    const table = this.table;
    for (let i = 0; i < table.capacity && this.heldEntries[loc] > 0; ) {
      if (table.occupied(i)) table.removeHolders(i, drop, removed);
      i++;
    }
    this.releaseIfEmpty(loc);
    table.compact();
  }

  /** Forgets `location` entirely (it died, or was deregistered); its id may be reused. */
  removeLocation(location: string): void {
    this.applyCleared(location);
  }

  /**
   * For each location holding the chain's first block, how many LEADING blocks of `hashes` it
   * holds per tier (see {@link LocationMatch} for the nested definition). With `codec`, only
   * blocks held in that codec count; with several codecs, each codec's leading runs are counted
   * separately and merged per tier by maximum (as {@link mergeMatches}), in one walk. Locations
   * holding no leading block are absent from the map.
   * Cost: per block of the leading run, one sequential read when the chain was stored in order
   * (else one table probe), plus its holders, visited only where they change along the chain;
   * stops at the first block no running location holds. Pass `hashes` as {@link PackedHashes}
   * (packed once per request) to skip packing them here.
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` for more than MAX_MATCH_CODECS codecs.
   */
  match(hashes: readonly BlockHash[] | PackedHashes, codec?: string | readonly string[]): Map<string, LocationMatch> {
    const packed = hashes instanceof PackedHashes ? hashes : PackedHashes.from(hashes);
    const out = new Map<string, LocationMatch>();
    const wanted = codec === undefined ? undefined : typeof codec === "string" ? [codec] : codec;
    if (wanted !== undefined && (!Array.isArray(wanted) || wanted.length === 0 || wanted.length > MAX_MATCH_CODECS)) {
      throw new PrefixIndexError("INVALID_ARGUMENT", "codec", `codec must be a string or 1 to ${MAX_MATCH_CODECS} strings`);
    }
    const lanes = this.laneCodecs;
    let nLanes = 0;
    if (wanted === undefined) lanes[nLanes++] = -1;
    else {
      for (const name of wanted) {
        const c = this.codecIds.get(name);
        let seen = false;
        for (let l = 0; l < nLanes; l++) seen ||= lanes[l] === c;
        if (c !== undefined && !seen) lanes[nLanes++] = c;
      }
      if (nLanes === 0) return out;
    }
    const n = this.runs(packed, nLanes);
    for (let k = 0; k < n; k++) {
      const idx = this.started[k];
      const name = this.locationNames[idx >>> LANE_BITS];
      const any = this.runAny[idx];
      const prev = out.get(name);
      if (prev === undefined) out.set(name, { device: this.runDevice[idx], host: this.runHost[idx], ssd: any, best: any, shared: this.sharedWithin(any) });
      else {
        prev.device = Math.max(prev.device, this.runDevice[idx]);
        prev.host = Math.max(prev.host, this.runHost[idx]);
        prev.ssd = Math.max(prev.ssd, any);
        prev.best = prev.ssd;
        prev.shared = this.sharedWithin(prev.best);
      }
    }
    return out;
  }

  /** Leading blocks of the last walk's chain up to and including its deepest branch point before position `depth`. */
  private sharedWithin(depth: number): number {
    const at = this.branchAt;
    let k = this.nBranches;
    while (k > 0 && at[k - 1] >= depth) k--;
    return k === 0 ? 0 : at[k - 1] + 1;
  }

  /** Number of distinct block hashes held by at least one location. */
  blockCount(): number {
    return this.table.size;
  }

  /** Number of locations holding at least one block. */
  locationCount(): number {
    return this.locationIds.size;
  }

  /** Ids of the locations holding at least one block, sorted. */
  locations(): string[] {
    return [...this.locationIds.keys()].sort();
  }

  /** Holder entries (block × tier × codec) of `location`; 0 for an unknown location. */
  entryCount(location: string): number {
    const loc = this.locationIds.get(location);
    return loc === undefined ? 0 : this.heldEntries[loc];
  }

  /** Bytes of the table's typed arrays (what an indexed block costs, apart from rare overflow lists). */
  tableBytes(): number {
    return this.table.storageBytes;
  }

  /** Visits every (block, location, tier, codec) entry, in table order. The hash passed is reused between calls: copy it to keep it. */
  forEachHeld(visit: HeldVisitor): void {
    const table = this.table;
    const key = new Uint8Array(BLOCK_HASH_BYTES);
    for (let i = 0; i < table.capacity; i++) {
      if (!table.occupied(i)) continue;
      table.keyInto(i, key);
      for (let j = 0; j < table.holderCount(i); j++) {
        const h = table.holderAt(i, j);
        visit(key, this.locationNames[holderLocation(h)], TIERS[h & TIER_MASK], this.codecNames[(h >>> CODEC_SHIFT) & CODEC_MASK]);
      }
    }
  }

  /**
   * Everything `location` holds, sorted by hash, then tier (fastest first), then codec, so two
   * router replicas fed the same events produce equal snapshots. Empty for an unknown location.
   * Cost: a scan of the whole table.
   */
  snapshot(location: string): HeldBlock[] {
    const out: HeldBlock[] = [];
    if (!this.locationIds.has(location)) return out;
    this.forEachHeld((hash, loc, tier, codec) => {
      if (loc === location) out.push({ hashHex: Buffer.from(hash).toString("hex"), tier, codec });
    });
    const tierOrder = (t: Tier): number => TIERS.indexOf(t);
    return out.sort(
      (a, b) =>
        (a.hashHex < b.hashHex ? -1 : a.hashHex > b.hashHex ? 1 : 0) ||
        tierOrder(a.tier) - tierOrder(b.tier) ||
        (a.codec < b.codec ? -1 : a.codec > b.codec ? 1 : 0),
    );
  }

  /**
   * The leading runs of `hashes`, per (location, lane): lane l counts holders whose codec is
   * `laneCodecs[l]` (-1 = any). Fills the scratch arrays at index `location << LANE_BITS | lane`
   * for every (location, lane) holding the first block, lists those indexes in `started[0, n)`,
   * and returns n.
   */
  private runs(hashes: PackedHashes, nLanes: number): number {
    const { laneCodecs, laneMask } = this;
    const anyCodec = laneCodecs[0] < 0;
    if (!anyCodec) for (let lane = 0; lane < nLanes; lane++) laneMask[laneCodecs[lane]] |= 1 << lane;
    let epoch = this.epoch + 1;
    if (epoch > 0x7fffffff) {
      this.stamp.fill(0);
      epoch = 1;
    }
    this.epoch = epoch;
    try {
      return this.walk(hashes, anyCodec, epoch);
    } finally {
      if (!anyCodec) for (let lane = 0; lane < nLanes; lane++) laneMask[laneCodecs[lane]] = 0;
    }
  }

  /**
   * One pass over the chain. A (location, lane) state is running at block i while
   * `runAny === i`; a holder of block i advances it to i + 1 and, by its tier, the device and
   * device-or-host runs if they were still alive. Stops at the first block no state advanced on.
   */
  private walk(hashes: PackedHashes, anyCodec: boolean, epoch: number): number {
    const { table, runDevice, runHost, runAny, stamp, started, laneMask } = this;
    const recs = table.records;
    const sigs = table.childSignatures;
    const minChildren = this.branchChildren;
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
      let lanes = anyCodec ? 1 : laneMask[(h >>> CODEC_SHIFT) & CODEC_MASK];
      const locBase = holderLocation(h) << LANE_BITS;
      const tier = h & TIER_MASK;
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
    const words = hashes.words;
    let id = -1;
    for (let i = 0; i < n; ) {
      const next = table.findWordsAfter(words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3], id);
      if (next < 0) return nStarted;
      const w = next * RECORD_WORDS;
      const first = recs[w + RECORD_FIRST];
      const rest = recs[w + RECORD_REST];
      if (i > 0 && next === id + 1 && first === recs[w - RECORD_WORDS + RECORD_FIRST] && table.sameRest(rest, recs[w - RECORD_WORDS + RECORD_REST])) {
        // Block i sits in the record after block i - 1's with the same holders, so every state
        // moves exactly as it did on block i - 1. Extend over the whole run of such records, then
        // move those states once.
        // (a record with these holders is in use, so it holds the key it shows)
        const limit = Math.min(n, i + table.capacity - next);
        let end = i + 1;
        let r = w + RECORD_WORDS;
        let q = 4 * end;
        while (
          end < limit &&
          recs[r + RECORD_FIRST] === first && (recs[r + RECORD_REST] === rest || (rest < -1 && table.sameRest(recs[r + RECORD_REST], rest))) &&
          recs[r] === words[q] && recs[r + 1] === words[q + 1] && recs[r + 2] === words[q + 2] && recs[r + 3] === words[q + 3]
        ) {
          end++;
          r += RECORD_WORDS;
          q += 4;
        }
        const last = next + (end - i - 1);
        for (let k = next; k <= last; k++) {
          const sig = sigs[k];
          if ((sig & (sig - 1)) !== 0) branch(i + (k - next), k); // two bits or more
        }
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
      const sig = sigs[next];
      if ((sig & (sig - 1)) !== 0) branch(i, next);
      id = next;
      i++;
    }
    return nStarted;
  }

  private internCodec(codec: string): number {
    let c = this.codecIds.get(codec);
    if (c !== undefined) return c;
    c = this.codecNames.length;
    if (c >= MAX_INDEXED_CODECS) {
      throw new PrefixIndexError("CAPACITY_EXCEEDED", "codec", `more than ${MAX_INDEXED_CODECS} codec ids; refusing ${codec}`);
    }
    this.codecIds.set(codec, c);
    this.codecNames.push(codec);
    return c;
  }

  private internLocation(location: string): number {
    let loc = this.locationIds.get(location);
    if (loc !== undefined) return loc;
    loc = this.freeLocationIds.pop() ?? this.locationNames.length;
    if (loc >= MAX_INDEXED_LOCATIONS) {
      throw new PrefixIndexError("CAPACITY_EXCEEDED", "location", `more than ${MAX_INDEXED_LOCATIONS} locations; refusing ${location}`);
    }
    this.locationIds.set(location, loc);
    this.locationNames[loc] = location;
    if (loc >= this.heldEntries.length) this.growScratch(2 * loc + 1);
    this.heldEntries[loc] = 0;
    return loc;
  }

  /** Room for `n` locations (their held-entry counts, and match scratch for every lane). */
  private growScratch(n: number): void {
    const grow = <T extends Int32Array | Float64Array>(a: T, make: (k: number) => T, size: number): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    const lanes = n << LANE_BITS;
    const i32 = (k: number): Int32Array => new Int32Array(k);
    this.heldEntries = grow(this.heldEntries, (k) => new Float64Array(k), n);
    this.runDevice = grow(this.runDevice, i32, lanes);
    this.runHost = grow(this.runHost, i32, lanes);
    this.runAny = grow(this.runAny, i32, lanes);
    this.stamp = grow(this.stamp, i32, lanes);
    this.started = grow(this.started, i32, lanes);
  }

  /** Frees the id of a location that holds nothing, so churn of worker ids does not leak. */
  private releaseIfEmpty(loc: number): void {
    if (this.heldEntries[loc] > 0) return;
    this.locationIds.delete(this.locationNames[loc]);
    this.locationNames[loc] = "";
    this.freeLocationIds.push(loc);
  }
}
