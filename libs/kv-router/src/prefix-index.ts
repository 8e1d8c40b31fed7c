// Which locations (worker device pools, kvstores) hold each chained block, in which tier and codec,
// fed by KV events (DESIGN.md §4, §7) and queried for the leading run of a prompt's blocks.
// Does not sequence events (index-feed.ts, announcer-tracker.ts), choose workers (routing-cost.ts)
// or hash tokens.
//
// Layout, chosen for memory and for walking chains: one record per distinct block in typed arrays,
// found through an open-addressing table over the 128-bit hashes (block-table.ts), listing the
// (location, tier, codec) triples holding it; a chain stored in order sits in consecutive records,
// so a walk reads it sequentially (match-walk.ts). A holder packs an interned location id, codec
// id and tier into one small integer (holder-code.ts).
// Clearing or forgetting a location scans the records (rare: a restart, a snapshot, a dead worker)
// instead of keeping a per-location reverse set, which cost more than the table itself.
import { randomInt } from "node:crypto";
import { assertBlockHash, assertBlockHashes, BLOCK_HASH_BYTES, PackedHashes, type BlockHash } from "./block-hash.js";
import { BlockTable } from "./block-table.js";
import { PrefixIndexError } from "./errors.js";
import { MAX_INDEXED_CODECS, MAX_INDEXED_LOCATIONS, holderCodec, holderLocation, holderOf, holderTier } from "./holder-code.js";
import type { LocationMatch } from "./location-match.js";
import { MAX_MATCH_CODECS, MatchWalk } from "./match-walk.js";
import { TIERS, type Tier } from "./tier.js";

export { MAX_INDEXED_CODECS, MAX_INDEXED_LOCATIONS } from "./holder-code.js";
export { MAX_MATCH_CODECS } from "./match-walk.js";

/** Longest accepted location id or codec id, in UTF-16 code units. */
export const MAX_ID_CHARS = 256;
/** Updates touch this many blocks' table slots ahead, so their cache misses overlap. */
const TOUCH_AHEAD_BLOCKS = 32;

/**
 * The index's hot-path tricks that {@link PrefixIndexOptions.plainForms} can replace by their
 * plain forms, for the A/B figures of `pnpm bench router`:
 * - `same-holder-runs`: the walk moves every running state once per run of consecutive records
 *   with the same holders (plain: it visits every block's holders);
 * - `fork-bits`: the walk finds branch points from per-record fork bits, 32 records a word
 *   (plain: it reads every passed record's child signature);
 * - `next-record`: the walk tries the record after the previous block's before the table
 *   (plain: it probes the table for every block);
 * - `walk-scratch`: the walk reuses its typed arrays from call to call (plain: fresh ones per call);
 * - `touch-ahead`: updates touch the table slots of the next blocks first (plain: no touching).
 */
export type IndexTrick = "same-holder-runs" | "fork-bits" | "next-record" | "walk-scratch" | "touch-ahead";

/** One (block, tier, codec) a location holds, as {@link PrefixIndex.snapshot} lists it. */
export interface HeldBlock {
  hashHex: string;
  tier: Tier;
  codec: string;
}

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
  /**
   * For A/B benchmarks only (`pnpm bench router`): these tricks run in their plain forms (see
   * {@link IndexTrick}). Answers are the same; only the speed differs.
   * @default none
   */
  plainForms?: readonly IndexTrick[];
}

/** Default {@link PrefixIndexOptions.sharedPrefixChildren}. */
const DEFAULT_SHARED_PREFIX_CHILDREN = 3;

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
  /** Codec ids of the current match's lanes (-1 = any codec). */
  private readonly laneCodecs = new Int32Array(MAX_MATCH_CODECS);
  private readonly walk: MatchWalk;
  private readonly touchAhead: boolean;

  constructor(options: PrefixIndexOptions = {}) {
    const children = options.sharedPrefixChildren ?? DEFAULT_SHARED_PREFIX_CHILDREN;
    if (!Number.isSafeInteger(children) || children < 2 || children > 16) {
      throw new PrefixIndexError(
        "INVALID_ARGUMENT",
        "sharedPrefixChildren",
        `sharedPrefixChildren must be an integer in [2, 16], got ${children}`,
      );
    }
    const plain = new Set(options.plainForms ?? []);
    this.table = new BlockTable(options.seed ?? randomInt(0, 2 ** 31 - 1), !plain.has("next-record"));
    this.walk = new MatchWalk(this.table, children, {
      sameHolderRuns: !plain.has("same-holder-runs"),
      forkBits: !plain.has("fork-bits"),
      reuseScratch: !plain.has("walk-scratch"),
    });
    this.touchAhead = !plain.has("touch-ahead");
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
    const holder = holderOf(loc, c, t);
    let added = 0;
    let prev = -1;
    const table = this.table;
    const parentId = links && parent !== undefined ? table.find(parent) : -1;
    for (let i = 0; i < hashes.length; i++) {
      // A/B (pnpm bench router, ab_touch_ahead_ingest_ratio): ingest x1.14-1.17 over updating without touching
      if (this.touchAhead && i % TOUCH_AHEAD_BLOCKS === 0) table.touchMany(hashes, i, Math.min(hashes.length, i + TOUCH_AHEAD_BLOCKS));
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
    const holder = holderOf(loc, c, t);
    let removed = 0;
    for (let i = 0; i < hashes.length; i++) {
      if (this.touchAhead && i % TOUCH_AHEAD_BLOCKS === 0) this.table.touchMany(hashes, i, Math.min(hashes.length, i + TOUCH_AHEAD_BLOCKS));
      const id = this.table.find(hashes[i]);
      if (id >= 0 && this.table.removeHolder(id, holder) !== 0) removed++;
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
    const drop = t < 0 ? (h: number) => holderLocation(h) === loc : (h: number) => holderLocation(h) === loc && holderTier(h) === t;
    const removed = (): void => {
      this.heldEntries[loc] -= 1;
    };
    const table = this.table;
    for (let i = 0; i < table.capacity && this.heldEntries[loc] > 0;) {
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
   * `hashes` must be a chain, each hash computed from the one before it (a prompt's, as
   * {@link hashChain} gives): a run of records linked one to the next is checked by its last key
   * alone, so a list that is not a chain may be counted past a block it does not share.
   * Cost: per run of blocks stored together with the same holders, one sequential read and a
   * few key checks (else one per block, and a table probe where the chain left the stored order),
   * plus the holders, visited only where they change along the chain; stops at the first block no
   * running location holds. A {@link PackedHashes.chained} `hashes` ({@link hashChain}'s) also
   * teaches the index the links it walks (an index built from snapshots has none).
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` for more than MAX_MATCH_CODECS codecs.
   */
  match(hashes: readonly BlockHash[] | PackedHashes, codec?: string | readonly string[]): Map<string, LocationMatch> {
    const chain = hashes instanceof PackedHashes ? hashes : PackedHashes.from(hashes);
    const out = new Map<string, LocationMatch>();
    const wanted = codec === undefined ? undefined : typeof codec === "string" ? [codec] : codec;
    if (wanted !== undefined && (!Array.isArray(wanted) || wanted.length === 0 || wanted.length > MAX_MATCH_CODECS)) {
      throw new PrefixIndexError("INVALID_ARGUMENT", "codec", `codec must be a string or 1 to ${MAX_MATCH_CODECS} strings`);
    }
    // A/B (pnpm bench router, ab_codec_lanes_route_p50_ratio): route p50 x1.07-1.10 over one walk per codec, merged
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
    const walk = this.walk;
    const n = walk.run(chain, lanes, nLanes);
    for (let k = 0; k < n; k++) {
      const name = this.locationNames[walk.locationOf(k)];
      const any = walk.anyOf(k);
      const prev = out.get(name);
      if (prev === undefined)
        out.set(name, { device: walk.deviceOf(k), host: walk.hostOf(k), ssd: any, best: any, shared: walk.sharedWithin(any) });
      else {
        prev.device = Math.max(prev.device, walk.deviceOf(k));
        prev.host = Math.max(prev.host, walk.hostOf(k));
        prev.ssd = Math.max(prev.ssd, any);
        prev.best = prev.ssd;
        prev.shared = walk.sharedWithin(prev.best);
      }
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
        visit(key, this.locationNames[holderLocation(h)], TIERS[holderTier(h)], this.codecNames[holderCodec(h)]);
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

  /** Room for `n` locations (their held-entry counts, and the match walk's run states). */
  private growScratch(n: number): void {
    const held = new Float64Array(n);
    held.set(this.heldEntries);
    this.heldEntries = held;
    this.walk.grow(n);
  }

  /** Frees the id of a location that holds nothing, so churn of worker ids does not leak. */
  private releaseIfEmpty(loc: number): void {
    if (this.heldEntries[loc] > 0) return;
    this.locationIds.delete(this.locationNames[loc]);
    this.locationNames[loc] = "";
    this.freeLocationIds.push(loc);
  }
}
