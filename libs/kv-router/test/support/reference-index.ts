// Brute-force reference for PrefixIndex: per location, per tier, a plain Set of "hex|codec", and
// per block held anywhere, the Set of its children's hexes (from stored chains).
// Obviously correct and slow; the property test checks the real index against it.
import { hashHex, type BlockHash } from "../../src/block-hash.js";
import { bitCount16, childBit } from "../../src/block-table.js";
import type { LocationMatch } from "../../src/location-match.js";
import type { HeldBlock } from "../../src/prefix-index.js";
import { TIERS, type Tier } from "../../src/tier.js";

/** First little-endian word of a hash given in hex (what the index's child signature is keyed by). */
const firstWord = (hex: string): number => Buffer.from(hex, "hex").readInt32LE(0);

export class ReferenceIndex {
  private readonly held = new Map<string, Map<Tier, Set<string>>>();
  /** Per block held anywhere: the hexes of the blocks stored right after it in a chain. */
  private readonly children = new Map<string, Set<string>>();

  constructor(private readonly branchChildren = 3) {}

  applyStored(location: string, tier: Tier, codec: string, hashes: BlockHash[], parent?: BlockHash, links = true): void {
    if (hashes.length === 0) return;
    const parentHex = parent !== undefined && links && this.heldAnywhere(hashHex(parent)) ? hashHex(parent) : undefined;
    let byTier = this.held.get(location);
    if (!byTier) this.held.set(location, (byTier = new Map()));
    let set = byTier.get(tier);
    if (!set) byTier.set(tier, (set = new Set()));
    const hexes = hashes.map(hashHex);
    for (const h of hexes) set.add(`${h}|${codec}`);
    if (!links) return;
    hexes.forEach((h, i) => {
      const up = i === 0 ? parentHex : hexes[i - 1];
      if (up === undefined) return;
      let kids = this.children.get(up);
      if (!kids) this.children.set(up, (kids = new Set()));
      kids.add(h);
    });
  }

  private heldAnywhere(hex: string): boolean {
    for (const byTier of this.held.values())
      for (const set of byTier.values()) for (const e of set) if (e.startsWith(`${hex}|`)) return true;
    return false;
  }

  /** A block that leaves every location loses what was known of its children. */
  private forgetUnheld(): void {
    for (const hex of [...this.children.keys()]) if (!this.heldAnywhere(hex)) this.children.delete(hex);
  }

  /** Whether `hex` has at least branchChildren children, counted as the index's 16-bit signature counts them. */
  private isBranch(hex: string): boolean {
    let sig = 0;
    for (const kid of this.children.get(hex) ?? []) sig |= childBit(firstWord(kid));
    return bitCount16(sig) >= this.branchChildren;
  }

  applyRemoved(location: string, tier: Tier, codec: string, hashes: BlockHash[]): void {
    const set = this.held.get(location)?.get(tier);
    if (!set) return;
    for (const h of hashes) set.delete(`${hashHex(h)}|${codec}`);
    this.prune(location);
    this.forgetUnheld();
  }

  applyCleared(location: string, tier?: Tier): void {
    const byTier = this.held.get(location);
    if (!byTier) return;
    if (tier === undefined) byTier.clear();
    else byTier.delete(tier);
    this.prune(location);
    this.forgetUnheld();
  }

  removeLocation(location: string): void {
    this.held.delete(location);
    this.forgetUnheld();
  }

  private prune(location: string): void {
    const byTier = this.held.get(location)!;
    for (const [t, set] of byTier) if (set.size === 0) byTier.delete(t);
    if (byTier.size === 0) this.held.delete(location);
  }

  private holds(location: string, hex: string, tiers: readonly Tier[], codec: string | undefined): boolean {
    const byTier = this.held.get(location);
    if (!byTier) return false;
    for (const t of tiers) {
      for (const entry of byTier.get(t) ?? []) {
        const [h, c] = entry.split("|");
        if (h === hex && (codec === undefined || c === codec)) return true;
      }
    }
    return false;
  }

  match(hashes: BlockHash[], codec?: string): Map<string, LocationMatch> {
    const hexes = hashes.map(hashHex);
    const out = new Map<string, LocationMatch>();
    const leading = (loc: string, tiers: readonly Tier[]): number => {
      let n = 0;
      while (n < hexes.length && this.holds(loc, hexes[n], tiers, codec)) n++;
      return n;
    };
    const sharedWithin = (depth: number): number => {
      for (let p = depth - 1; p >= 0; p--) if (this.isBranch(hexes[p])) return p + 1;
      return 0;
    };
    for (const loc of this.held.keys()) {
      const ssd = leading(loc, ["device", "host", "ssd"]);
      if (ssd === 0) continue;
      out.set(loc, { device: leading(loc, ["device"]), host: leading(loc, ["device", "host"]), ssd, best: ssd, shared: sharedWithin(ssd) });
    }
    return out;
  }

  blockCount(): number {
    const all = new Set<string>();
    for (const byTier of this.held.values()) for (const set of byTier.values()) for (const e of set) all.add(e.split("|")[0]);
    return all.size;
  }

  locations(): string[] {
    return [...this.held.keys()].sort();
  }

  snapshot(location: string): HeldBlock[] {
    const out: HeldBlock[] = [];
    for (const [tier, set] of this.held.get(location) ?? []) {
      for (const e of set) {
        const [hashHex, codec] = e.split("|");
        out.push({ hashHex, tier, codec });
      }
    }
    return out.sort(
      (a, b) =>
        a.hashHex.localeCompare(b.hashHex) ||
        TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier) ||
        (a.codec < b.codec ? -1 : a.codec > b.codec ? 1 : 0),
    );
  }
}
