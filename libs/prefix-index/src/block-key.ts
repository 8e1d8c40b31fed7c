// Internal: a 16-byte block hash as a 16-character one-byte string, the cheapest key a JS Map
// holds by value (about 32 bytes on the heap, against 48+ for hex). Not part of the public API.
import { assertBlockHash, type BlockHash } from "./block-hash.js";

/** Map key of a block hash; validates the hash, naming `field` when it is refused. */
export function blockKey(h: BlockHash, field: string): string {
  assertBlockHash(h, field);
  return String.fromCharCode(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}

/** The hex form of a key made by {@link blockKey}. */
export function blockKeyHex(key: string): string {
  return Buffer.from(key, "latin1").toString("hex");
}
