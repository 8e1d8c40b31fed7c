// Prefix matches for a request's codec: a kvstore location counts only blocks it holds in that
// codec (the prefill and decode workers fetch (hash, codec)), while a worker's device pool,
// announced with codec DEVICE_CODEC, holds unencoded KV that serves a request of any codec.
import type { PackedHashes } from "./block-hash.js";
import type { LocationMatch } from "./location-match.js";
import type { PrefixIndex } from "./prefix-index.js";

/** The codec a device pool announces its blocks with: unencoded KV, usable by a request of any codec. */
export const DEVICE_CODEC = "raw";

/** Per location, the leading blocks of `hashes` usable by a request whose blocks use `codec`. */
export function matchForCodec(
  index: Pick<PrefixIndex, "match">,
  hashes: readonly Uint8Array[] | PackedHashes,
  codec: string,
): Map<string, LocationMatch> {
  // one walk: each codec's leading runs counted apart and merged per tier (as mergeMatches)
  return index.match(hashes, codec === DEVICE_CODEC ? DEVICE_CODEC : [DEVICE_CODEC, codec]);
}
