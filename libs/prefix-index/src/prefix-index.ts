// Which locations (worker device pools, kvstores) hold each chained block, in which tier and codec,
// fed by KV events (DESIGN.md §4, §7) and queried for the leading run of a prompt's blocks.
// Does not sequence events (index-feed.ts, announcer-tracker.ts), choose workers (routing-cost.ts)
// or hash tokens.
//
// Layout, chosen for memory: one slot per distinct block in an open-addressing table over the
// 128-bit hashes in typed arrays (block-table.ts), listing the (location, tier, codec) triples
// holding it. A holder packs an interned location id, codec id and tier into one small integer.
// Clearing or forgetting a location scans the table (rare: a restart, a snapshot, a dead worker)
// instead of keeping a per-location reverse set, which cost more than the table itself.
import { randomInt } from "node:crypto";
import { assertBlockHash, BLOCK_HASH_BYTES, type BlockHash } from "./block-hash.js";
import { BlockTable } from "./block-table.js";
import { PrefixIndexError } from "./errors.js";
import type { LocationMatch } from "./location-match.js";
import { TIERS, type Tier } from "./tier.js";

/** Most locations indexed at once (ids of forgotten locations are reused). */
export const MAX_INDEXED_LOCATIONS = 1 << 20;
/** Most distinct codec ids ever indexed by one PrefixIndex. */
export const MAX_INDEXED_CODECS = 1 << 8;
/** Longest accepted location id or codec id, in UTF-16 code units. */
export const MAX_ID_CHARS = 256;

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
const DEVICE_BIT = 1 << 0;
const DEVICE_OR_HOST_BITS = (1 << 0) | (1 << 1);

const holderLocation = (h: number): number => h >>> LOCATION_SHIFT;

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

function assertHashes(hashes: readonly BlockHash[]): void {
  if (!Array.isArray(hashes)) throw new PrefixIndexError("INVALID_ARGUMENT", "hashes", "hashes must be an array");
  for (let i = 0; i < hashes.length; i++) assertBlockHash(hashes[i], `hashes[${i}]`);
}

/** Options of a {@link PrefixIndex}. */
export interface PrefixIndexOptions {
  /**
   * Keys the table's slot function. Give one only for reproducible tests.
   * @default a random 31-bit integer per index
   */
  seed?: number;
}

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
  private runDevice: Int32Array = new Int32Array(16);
  private runHost: Int32Array = new Int32Array(16);
  private runAny: Int32Array = new Int32Array(16);
  private tierBits: Int32Array = new Int32Array(16);
  private stamp: Int32Array = new Int32Array(16);
  private touched: Int32Array = new Int32Array(16);
  private started: Int32Array = new Int32Array(16);
  private epoch = 0;

  constructor(options: PrefixIndexOptions = {}) {
    this.table = new BlockTable(options.seed ?? randomInt(0, 2 ** 31 - 1));
  }

  /**
   * Records that `location` holds `hashes` in `tier`, encoded with `codec` (a BlockStored event).
   * `parent` is checked but not needed: a chained hash already stands for its whole prefix, and
   * {@link match} walks the chain the query gives.
   * @throws {PrefixIndexError} on a bad argument, or `CAPACITY_EXCEEDED` when the location or
   * codec tables are full.
   */
  applyStored(location: string, tier: Tier, codec: string, hashes: readonly BlockHash[], parent?: BlockHash): void {
    assertId(location, "location");
    assertId(codec, "codec");
    const t = tierIndex(tier, "tier");
    if (parent !== undefined) assertBlockHash(parent, "parent");
    assertHashes(hashes);
    if (hashes.length === 0) return;
    const c = this.internCodec(codec);
    const loc = this.internLocation(location);
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    let added = 0;
    for (let i = 0; i < hashes.length; i++) if (this.table.addHolder(hashes[i], holder)) added++;
    this.heldEntries[loc] += added;
  }

  /** Records that `location` no longer holds `hashes` in `tier` with `codec` (a BlockRemoved event). */
  applyRemoved(location: string, tier: Tier, codec: string, hashes: readonly BlockHash[]): void {
    assertId(location, "location");
    assertId(codec, "codec");
    const t = tierIndex(tier, "tier");
    assertHashes(hashes);
    const loc = this.locationIds.get(location);
    const c = this.codecIds.get(codec);
    if (loc === undefined || c === undefined) return;
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    const drop = (h: number): boolean => h === holder;
    const removed = (): void => {
      this.heldEntries[loc] -= 1;
    };
    for (let i = 0; i < hashes.length; i++) {
      const slot = this.table.find(hashes[i]);
      if (slot >= 0) this.table.removeHolders(slot, drop, removed);
    }
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
      // a removed block may have let the next one shift back into slot i: look at i again
      if (table.occupied(i) && table.removeHolders(i, drop, removed)) continue;
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
   * blocks held in that codec count. Locations holding no leading block are absent from the map.
   * Cost: one table probe per block of the leading run, plus its holders; stops at the first
   * block no running location holds.
   */
  match(hashes: readonly BlockHash[], codec?: string): Map<string, LocationMatch> {
    assertHashes(hashes);
    const out = new Map<string, LocationMatch>();
    let codecId = -1;
    if (codec !== undefined) {
      const c = this.codecIds.get(codec);
      if (c === undefined) return out;
      codecId = c;
    }
    const n = this.runs(hashes, codecId);
    for (let k = 0; k < n; k++) {
      const loc = this.started[k];
      const any = this.runAny[loc];
      out.set(this.locationNames[loc], { device: this.runDevice[loc], host: this.runHost[loc], ssd: any, best: any });
    }
    return out;
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
   * The leading runs of `hashes`: fills the scratch arrays for every location holding the first
   * block (in `started[0, n)`) and returns n.
   */
  private runs(hashes: readonly BlockHash[], codecId: number): number {
    const table = this.table;
    const { runDevice, runHost, runAny, tierBits, stamp, touched, started } = this;
    let epoch = this.epoch + 1;
    if (epoch > 0x7fffffff) {
      stamp.fill(0);
      epoch = 1;
    }
    this.epoch = epoch;
    let nStarted = 0;
    for (let i = 0; i < hashes.length; i++) {
      const slot = table.find(hashes[i]);
      if (slot < 0) break;
      let nTouched = 0;
      const count = table.holderCount(slot);
      for (let j = 0; j < count; j++) {
        const h = table.holderAt(slot, j);
        if (codecId >= 0 && ((h >>> CODEC_SHIFT) & CODEC_MASK) !== codecId) continue;
        const loc = holderLocation(h);
        if (stamp[loc] !== epoch) {
          if (i !== 0) continue; // did not hold an earlier block of the chain
          stamp[loc] = epoch;
          runDevice[loc] = 0;
          runHost[loc] = 0;
          runAny[loc] = 0;
          tierBits[loc] = 0;
          started[nStarted++] = loc;
        } else if (runAny[loc] !== i) continue; // its run already ended
        if (tierBits[loc] === 0) touched[nTouched++] = loc;
        tierBits[loc] |= 1 << (h & TIER_MASK);
      }
      if (nTouched === 0) break;
      for (let k = 0; k < nTouched; k++) {
        const loc = touched[k];
        const bits = tierBits[loc];
        if (runDevice[loc] === i && (bits & DEVICE_BIT) !== 0) runDevice[loc] = i + 1;
        if (runHost[loc] === i && (bits & DEVICE_OR_HOST_BITS) !== 0) runHost[loc] = i + 1;
        runAny[loc] = i + 1;
        tierBits[loc] = 0;
      }
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
    if (loc >= this.stamp.length) this.growScratch(2 * loc + 1);
    this.heldEntries[loc] = 0;
    return loc;
  }

  private growScratch(n: number): void {
    const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    const i32 = (k: number): Int32Array => new Int32Array(k);
    this.heldEntries = grow(this.heldEntries, (k) => new Float64Array(k));
    this.runDevice = grow(this.runDevice, i32);
    this.runHost = grow(this.runHost, i32);
    this.runAny = grow(this.runAny, i32);
    this.tierBits = grow(this.tierBits, i32);
    this.stamp = grow(this.stamp, i32);
    this.touched = grow(this.touched, i32);
    this.started = grow(this.started, i32);
  }

  /** Frees the id of a location that holds nothing, so churn of worker ids does not leak. */
  private releaseIfEmpty(loc: number): void {
    if (this.heldEntries[loc] > 0) return;
    this.locationIds.delete(this.locationNames[loc]);
    this.locationNames[loc] = "";
    this.freeLocationIds.push(loc);
  }
}
