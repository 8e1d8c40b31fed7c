// Block identity as every layer sees it: a block hash is 128 bits (the first 16 bytes of a
// SHA-256 chain, libs/kv-router's block-hash.ts), in every message, key and file that carries one.

/** Bytes of a block hash, and of the namespace hash a chain starts from. */
export const BLOCK_HASH_BYTES = 16;
