// The one error class of @kvtier/kv-router. Services map `code` to a gRPC status in one place
// (INVALID_* → INVALID_ARGUMENT naming `field`, CAPACITY_EXCEEDED → RESOURCE_EXHAUSTED).

/** Stable machine-readable reasons the kv-router library refuses an input. */
export type PrefixIndexErrorCode =
  /** A block hash is not 16 bytes, or a hex string is not 32 hex digits. */
  | "INVALID_BLOCK_HASH"
  /** A token id is not an integer in [0, 2^32). */
  | "INVALID_TOKEN"
  /** Any other argument out of its documented domain (names the field). */
  | "INVALID_ARGUMENT"
  /** An interning table (locations, codecs) is full. */
  | "CAPACITY_EXCEEDED";

/**
 * Thrown on bad input to any function of this library.
 * `code` is stable and safe to branch on; `field` names the offending argument; the message is
 * for humans.
 */
export class PrefixIndexError extends Error {
  override readonly name = "PrefixIndexError";
  readonly code: PrefixIndexErrorCode;
  /** The argument (or argument path, e.g. `hashes[3]`) that was refused. */
  readonly field: string;

  constructor(code: PrefixIndexErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.field = field;
  }
}
