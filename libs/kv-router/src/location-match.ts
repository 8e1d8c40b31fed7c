// The answer of a prefix lookup for one location, and how a worker's own match combines with its
// node's kvstore. Pure arithmetic over counts; computes no match itself (see prefix-index.ts).

/**
 * How many LEADING blocks of a queried chain one location holds, by tier. The counts are nested
 * (`device <= host <= ssd`) because each one admits the tiers before it:
 * - `device`: leading blocks held in the device tier;
 * - `host`: leading blocks held in device or host;
 * - `ssd`: leading blocks held in any tier;
 * - `best`: leading blocks usable from this location whatever the tier. It equals `ssd` today and
 *   exists so callers that only want "how much is cached" need not know which tier is widest.
 * So blocks `[0, device)` load from device, `[device, host)` from host at worst, and
 * `[host, ssd)` from SSD at worst.
 * - `shared` (<= `best`): the leading blocks that are a prefix many chains share, up to and
 *   including the deepest branch point among the `best` blocks (a block the index has seen
 *   continued by several different blocks, see PrefixIndexOptions.sharedPrefixChildren); 0 when
 *   there is none. Blocks `[shared, best)` are this chain's own (a session's context). The
 *   routing cost's overload penalty takes away only the value of the shared part.
 */
export interface LocationMatch {
  device: number;
  host: number;
  ssd: number;
  best: number;
  shared: number;
}

/** Per-tier block counts that do not overlap: how many matched blocks come from each tier. */
export interface TierBlockCounts {
  device: number;
  host: number;
  ssd: number;
}

/** A match of zero blocks everywhere. */
export function emptyMatch(): LocationMatch {
  return { device: 0, host: 0, ssd: 0, best: 0, shared: 0 };
}

/**
 * What a worker can load: its own device pool (`device`, announced by the worker) merged with its
 * node's kvstore (`store`, announced by the kvstore's host and SSD tiers). Each count is a leading
 * run, and the union of two leading runs is at least the longer one, so every merged count is the
 * maximum of the two. That is exact unless the two sources interleave (the worker holds blocks
 * 0–3 and 5, the store only 4), where it is a safe under-estimate.
 */
export function mergeMatches(device: LocationMatch | undefined, store: LocationMatch | undefined): LocationMatch {
  const a = device ?? emptyMatch();
  const b = store ?? emptyMatch();
  return {
    device: Math.max(a.device, b.device),
    host: Math.max(a.host, b.host),
    ssd: Math.max(a.ssd, b.ssd),
    best: Math.max(a.best, b.best),
    // the shared depth grows with the match's depth along one chain, so the deeper match's is the larger
    shared: Math.max(a.shared, b.shared),
  };
}

/** Splits a nested match into the number of leading blocks whose fastest source is each tier. */
export function blocksByFastestTier(m: LocationMatch): TierBlockCounts {
  return { device: m.device, host: m.host - m.device, ssd: m.ssd - m.host };
}
