// Prefix matches for a request's codec: a kvstore location counts only blocks it holds in that
// codec (the prefill and decode workers fetch (hash, codec)), while a worker's device pool,
// announced with codec "raw", holds unencoded KV that serves a request of any codec.
import { DEVICE_CODEC } from "@kvtier/serving";
import type { LocationMatch, PackedHashes, PrefixIndex } from "@kvtier/kv-router";

/** Per location, the leading blocks of `hashes` usable by a request whose blocks use `codec`. */
export function matchForCodec(index: Pick<PrefixIndex, "match">, hashes: readonly Uint8Array[] | PackedHashes, codec: string): Map<string, LocationMatch> {
  // one walk: each codec's leading runs counted apart and merged per tier (as mergeMatches)
  return index.match(hashes, codec === DEVICE_CODEC ? DEVICE_CODEC : [DEVICE_CODEC, codec]);
}
