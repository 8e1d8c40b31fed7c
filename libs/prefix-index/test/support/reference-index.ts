// Brute-force reference for PrefixIndex: per location, per tier, a plain Set of "hex|codec".
// Obviously correct and slow; the property test checks the real index against it.
import { hashHex, type BlockHash } from "../../src/block-hash.js";
import type { LocationMatch } from "../../src/location-match.js";
import type { HeldBlock } from "../../src/prefix-index.js";
import { TIERS, type Tier } from "../../src/tier.js";

export class ReferenceIndex {
  private readonly held = new Map<string, Map<Tier, Set<string>>>();

  applyStored(location: string, tier: Tier, codec: string, hashes: BlockHash[]): void {
    if (hashes.length === 0) return;
    let byTier = this.held.get(location);
    if (!byTier) this.held.set(location, (byTier = new Map()));
    let set = byTier.get(tier);
    if (!set) byTier.set(tier, (set = new Set()));
    for (const h of hashes) set.add(`${hashHex(h)}|${codec}`);
  }

  applyRemoved(location: string, tier: Tier, codec: string, hashes: BlockHash[]): void {
    const set = this.held.get(location)?.get(tier);
    if (!set) return;
    for (const h of hashes) set.delete(`${hashHex(h)}|${codec}`);
    this.prune(location);
  }

  applyCleared(location: string, tier?: Tier): void {
    const byTier = this.held.get(location);
    if (!byTier) return;
    if (tier === undefined) byTier.clear();
    else byTier.delete(tier);
    this.prune(location);
  }

  removeLocation(location: string): void {
    this.held.delete(location);
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
    for (const loc of this.held.keys()) {
      const ssd = leading(loc, ["device", "host", "ssd"]);
      if (ssd === 0) continue;
      out.set(loc, { device: leading(loc, ["device"]), host: leading(loc, ["device", "host"]), ssd, best: ssd });
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
        a.hashHex.localeCompare(b.hashHex) || TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier) || (a.codec < b.codec ? -1 : a.codec > b.codec ? 1 : 0),
    );
  }
}
