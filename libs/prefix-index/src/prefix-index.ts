// Which locations (worker device pools, kvstores) hold each chained block, in which tier and codec,
// fed by KV events (DESIGN.md §4, §7) and queried for the leading run of a prompt's blocks.
// Does not sequence events (announcer-tracker.ts), choose workers (routing-cost.ts) or hash tokens.
//
// Layout, chosen for memory: one Map entry per distinct block, keyed by the hash as a 16-char
// string, whose value lists the (location, tier, codec) triples holding it (holder-list.ts). A
// holder packs an interned location id, codec id and tier into one small integer. Per location, a
// Set of the same key strings (shared, not copied) makes clearing or forgetting a location cost
// what it holds, not the whole index.
import { assertBlockHash, type BlockHash } from "./block-hash.js";
import { blockKey, blockKeyHex } from "./block-key.js";
import { PrefixIndexError } from "./errors.js";
import { holderAt, holderCount, withHolder, withoutHolders, type HolderList } from "./holder-list.js";
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

interface MatchState {
  device: number;
  host: number;
  ssd: number;
  /** Tier bits (1 << tier) of the block being visited; 0 between blocks. */
  mask: number;
}

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

function keysOf(hashes: readonly BlockHash[]): string[] {
  if (!Array.isArray(hashes)) throw new PrefixIndexError("INVALID_ARGUMENT", "hashes", "hashes must be an array");
  const keys = new Array<string>(hashes.length);
  for (let i = 0; i < hashes.length; i++) keys[i] = blockKey(hashes[i], `hashes[${i}]`);
  return keys;
}

/**
 * An index over chained block hashes of which locations hold each block, in which tier and codec.
 * A location is a worker id (its device pool) or a kvstore id (its host and SSD tiers). All
 * updates are idempotent; removing what is not held is a no-op. Every method validates its input
 * before changing anything, so a refused call leaves the index as it was.
 */
export class PrefixIndex {
  private readonly blocks = new Map<string, HolderList>();
  private readonly locationIds = new Map<string, number>();
  private readonly locationNames: string[] = [];
  /** Per location id: the keys of the blocks it holds in at least one (tier, codec). */
  private readonly heldBy: (Set<string> | undefined)[] = [];
  private readonly freeLocationIds: number[] = [];
  private readonly codecIds = new Map<string, number>();
  private readonly codecNames: string[] = [];

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
    const keys = keysOf(hashes);
    if (keys.length === 0) return;
    const c = this.internCodec(codec);
    const loc = this.internLocation(location);
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    const held = this.heldBy[loc]!;
    for (const key of keys) {
      const cur = this.blocks.get(key);
      const next = withHolder(cur, holder);
      if (next !== cur) this.blocks.set(key, next);
      held.add(key);
    }
  }

  /** Records that `location` no longer holds `hashes` in `tier` with `codec` (a BlockRemoved event). */
  applyRemoved(location: string, tier: Tier, codec: string, hashes: readonly BlockHash[]): void {
    assertId(location, "location");
    assertId(codec, "codec");
    const t = tierIndex(tier, "tier");
    const keys = keysOf(hashes);
    const loc = this.locationIds.get(location);
    const c = this.codecIds.get(codec);
    if (loc === undefined || c === undefined) return;
    const holder = (loc << LOCATION_SHIFT) | (c << CODEC_SHIFT) | t;
    const held = this.heldBy[loc]!;
    for (const key of keys) {
      if (!this.removeHolders(key, (h) => h === holder, loc)) held.delete(key);
    }
    this.releaseIfEmpty(loc);
  }

  /** Drops everything `location` holds in `tier`, or in every tier when `tier` is omitted (AllBlocksCleared). */
  applyCleared(location: string, tier?: Tier): void {
    assertId(location, "location");
    const t = tier === undefined ? -1 : tierIndex(tier, "tier");
    const loc = this.locationIds.get(location);
    if (loc === undefined) return;
    const held = this.heldBy[loc]!;
    const drop = t < 0 ? (h: number) => holderLocation(h) === loc : (h: number) => holderLocation(h) === loc && (h & TIER_MASK) === t;
    for (const key of held) {
      if (!this.removeHolders(key, drop, loc)) held.delete(key);
    }
    this.releaseIfEmpty(loc);
  }

  /** Forgets `location` entirely (it died, or was deregistered); its id may be reused. */
  removeLocation(location: string): void {
    this.applyCleared(location);
  }

  /**
   * For each location holding the chain's first block, how many LEADING blocks of `hashes` it
   * holds per tier (see {@link LocationMatch} for the nested definition). With `codec`, only
   * blocks held in that codec count. Locations holding no leading block are absent from the map.
   * Cost: proportional to the holders of the matched blocks, not to the index size.
   */
  match(hashes: readonly BlockHash[], codec?: string): Map<string, LocationMatch> {
    if (!Array.isArray(hashes)) throw new PrefixIndexError("INVALID_ARGUMENT", "hashes", "hashes must be an array");
    for (let i = 0; i < hashes.length; i++) assertBlockHash(hashes[i], `hashes[${i}]`);
    const out = new Map<string, LocationMatch>();
    let codecId = -1;
    if (codec !== undefined) {
      const c = this.codecIds.get(codec);
      if (c === undefined) return out;
      codecId = c;
    }
    const states = new Map<number, MatchState>();
    const touched: MatchState[] = [];
    const visit = (h: number, i: number): void => {
      if (codecId >= 0 && ((h >>> CODEC_SHIFT) & CODEC_MASK) !== codecId) return;
      const loc = holderLocation(h);
      let st = states.get(loc);
      if (st === undefined) {
        if (i !== 0) return; // did not hold an earlier block of the chain
        st = { device: 0, host: 0, ssd: 0, mask: 0 };
        states.set(loc, st);
      } else if (st.ssd !== i) return; // its run already ended
      if (st.mask === 0) touched.push(st);
      st.mask |= 1 << (h & TIER_MASK);
    };
    for (let i = 0; i < hashes.length; i++) {
      const cur = this.blocks.get(blockKey(hashes[i], `hashes[${i}]`));
      if (cur === undefined) break;
      const n = holderCount(cur);
      for (let j = 0; j < n; j++) visit(holderAt(cur, j), i);
      if (touched.length === 0) break;
      for (const st of touched) {
        if (st.device === i && (st.mask & DEVICE_BIT) !== 0) st.device = i + 1;
        if (st.host === i && (st.mask & DEVICE_OR_HOST_BITS) !== 0) st.host = i + 1;
        st.ssd = i + 1;
        st.mask = 0;
      }
      touched.length = 0;
    }
    for (const [loc, st] of states) {
      out.set(this.locationNames[loc], { device: st.device, host: st.host, ssd: st.ssd, best: st.ssd });
    }
    return out;
  }

  /** Number of distinct block hashes held by at least one location. */
  blockCount(): number {
    return this.blocks.size;
  }

  /** Number of locations holding at least one block. */
  locationCount(): number {
    return this.locationIds.size;
  }

  /** Ids of the locations holding at least one block, sorted. */
  locations(): string[] {
    return [...this.locationIds.keys()].sort();
  }

  /**
   * Everything `location` holds, sorted by hash, then tier (fastest first), then codec, so two
   * router replicas fed the same events produce equal snapshots. Empty for an unknown location.
   */
  snapshot(location: string): HeldBlock[] {
    const loc = this.locationIds.get(location);
    if (loc === undefined) return [];
    const out: HeldBlock[] = [];
    for (const key of this.heldBy[loc]!) {
      const cur = this.blocks.get(key)!;
      const hashHex = blockKeyHex(key);
      for (let j = 0; j < holderCount(cur); j++) {
        const h = holderAt(cur, j);
        if (holderLocation(h) !== loc) continue;
        out.push({ hashHex, tier: TIERS[h & TIER_MASK], codec: this.codecNames[(h >>> CODEC_SHIFT) & CODEC_MASK] });
      }
    }
    const tierOrder = (t: Tier): number => TIERS.indexOf(t);
    return out.sort(
      (a, b) =>
        (a.hashHex < b.hashHex ? -1 : a.hashHex > b.hashHex ? 1 : 0) ||
        tierOrder(a.tier) - tierOrder(b.tier) ||
        (a.codec < b.codec ? -1 : a.codec > b.codec ? 1 : 0),
    );
  }

  /** Removes the holders of `key` that `drop` selects; returns whether `loc` still holds the key. */
  private removeHolders(key: string, drop: (h: number) => boolean, loc: number): boolean {
    const cur = this.blocks.get(key);
    if (cur === undefined) return false;
    const next = withoutHolders(cur, drop);
    if (next === undefined) {
      this.blocks.delete(key);
      return false;
    }
    if (next !== cur) this.blocks.set(key, next);
    for (let j = 0; j < holderCount(next); j++) if (holderLocation(holderAt(next, j)) === loc) return true;
    return false;
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
    this.heldBy[loc] = new Set();
    return loc;
  }

  /** Frees the id of a location that holds nothing, so churn of worker ids does not leak. */
  private releaseIfEmpty(loc: number): void {
    if (this.heldBy[loc]!.size > 0) return;
    this.locationIds.delete(this.locationNames[loc]);
    this.locationNames[loc] = "";
    this.heldBy[loc] = undefined;
    this.freeLocationIds.push(loc);
  }
}
