// Identity of a stored object: (block hash, codec). A logical block may be held in several
// codecs; each (hash, codec) pair is one content-addressed object.

/** A stored object's key; `id` is a stable string form for maps. */
export interface BlockKey {
  /** The 128-bit chained block hash (DESIGN.md section 3). */
  readonly hash: Uint8Array;
  /** Codec id, parameters included. */
  readonly codec: string;
  /** `<hash hex>/<codec>`. */
  readonly id: string;
}

/** Hex form of a hash, for keys and messages. */
export function hashHex(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
}

/** The `id` of (hash, codec) without building a key. */
export const blockKeyId = (hash: Uint8Array, codec: string): string => `${hashHex(hash)}/${codec}`;

/** The key of (hash, codec). The hash is copied, so callers may reuse their buffer. */
export function blockKey(hash: Uint8Array, codec: string): BlockKey {
  const own = Uint8Array.from(hash);
  return { hash: own, codec, id: blockKeyId(own, codec) };
}
