// Named error for malformed, corrupt or unsupported KV blocks (section 9: never used, always detected).

/** Stable machine-readable reasons a KV block is refused. */
export type KvBlockErrorCode = "TRUNCATED" | "BAD_MAGIC" | "BAD_VERSION" | "UNKNOWN_CODEC" | "SIZE_MISMATCH" | "BAD_CHECKSUM" | "TOO_LARGE";

/**
 * Thrown when a KV block cannot be encoded, parsed or verified.
 * `code` is stable and safe to branch on; the message is for humans.
 */
export class KvBlockError extends Error {
  override readonly name = "KvBlockError";
  readonly code: KvBlockErrorCode;

  constructor(code: KvBlockErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
