// Prefix matches for a request's codec: a kvstore location counts only blocks it holds in that
// codec (the prefill and decode workers fetch (hash, codec)), while a worker's device pool,
// announced with codec "raw", holds unencoded KV that serves a request of any codec.
import { DEVICE_CODEC } from "@kvtier/serving";
import { mergeMatches, type LocationMatch, type PrefixIndex } from "@kvtier/prefix-index";

/** Per location, the leading blocks of `hashes` usable by a request whose blocks use `codec`. */
export function matchForCodec(index: Pick<PrefixIndex, "match">, hashes: readonly Uint8Array[], codec: string): Map<string, LocationMatch> {
  const device = index.match(hashes, DEVICE_CODEC);
  const stored = codec === DEVICE_CODEC ? new Map<string, LocationMatch>() : index.match(hashes, codec);
  const out = new Map(stored);
  for (const [location, m] of device) out.set(location, mergeMatches(m, stored.get(location)));
  return out;
}
