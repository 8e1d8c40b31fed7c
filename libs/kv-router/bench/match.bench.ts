// Matching a 256-block prompt against an index of 200k blocks over 64 workers and 8 kvstores:
// PrefixIndex.match against a straightforward baseline (hex keys, an array of holder objects per
// block, a per-location scan). Run: pnpm exec vitest bench --run libs/kv-router
import { bench, describe } from "vitest";
import { chainBlockHashes, hashHex, namespaceHash, type BlockHash } from "../src/block-hash.js";
import { PrefixIndex } from "../src/prefix-index.js";
import type { Tier } from "../src/tier.js";

const BLOCK = 16;
const ns = namespaceHash({ modelId: "bench", layoutVersion: 1, blockSize: BLOCK, tenantSalt: "s" });
const chains: BlockHash[][] = Array.from({ length: 800 }, (_, c) =>
  chainBlockHashes(
    ns,
    Array.from({ length: 256 * BLOCK }, (_, i) => (c * 131 + i) % 32000),
    BLOCK,
  ),
);

interface Holder {
  location: string;
  tier: Tier;
  codec: string;
}
const baselineIndex = new Map<string, Holder[]>();
const index = new PrefixIndex();
chains.forEach((chain, c) => {
  const worker = `worker-${c % 64}`;
  const store = `kvstore-${c % 8}`;
  const stores: [string, Tier, BlockHash[]][] = [
    [worker, "device", chain.slice(0, 128)],
    [store, "host", chain],
  ];
  for (const [location, tier, hashes] of stores) {
    index.applyStored(location, tier, "fp16", hashes);
    for (const h of hashes) {
      const key = hashHex(h);
      const list = baselineIndex.get(key) ?? [];
      list.push({ location, tier, codec: "fp16" });
      baselineIndex.set(key, list);
    }
  }
});
const query = chains[17];

function baselineMatch(hashes: BlockHash[]): Map<string, { device: number; host: number; ssd: number }> {
  const out = new Map<string, { device: number; host: number; ssd: number; open: boolean }>();
  for (let i = 0; i < hashes.length; i++) {
    const holders = baselineIndex.get(hashHex(hashes[i])) ?? [];
    const here = new Map<string, Set<Tier>>();
    for (const h of holders) here.set(h.location, (here.get(h.location) ?? new Set()).add(h.tier));
    let any = false;
    for (const [loc, tiers] of here) {
      let st = out.get(loc);
      if (!st && i === 0) out.set(loc, (st = { device: 0, host: 0, ssd: 0, open: true }));
      if (!st || !st.open || st.ssd !== i) continue;
      any = true;
      if (st.device === i && tiers.has("device")) st.device++;
      if (st.host === i && (tiers.has("device") || tiers.has("host"))) st.host++;
      st.ssd++;
    }
    if (!any) break;
  }
  return out;
}

describe("match 256 blocks (index of 200k blocks, 72 locations)", () => {
  bench("baseline (hex keys, holder objects)", () => {
    baselineMatch(query);
  });
  bench("PrefixIndex.match", () => {
    index.match(query);
  });
});
