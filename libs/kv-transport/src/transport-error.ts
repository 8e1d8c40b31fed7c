// Errors of the fast data paths. Each carries a stable `code` (a gRPC status name, so the client
// maps it to KvtierError without a table), a stable `reason` (the metrics/README vocabulary) and
// the field at fault. Kept free of grpc-js; only the gRPC path (grpc-block-path.ts) uses it.
import { KVTIER_ERROR_CODES, type KvtierErrorCode } from "@kvtier/core";

/** Status names a data-path failure maps to: the shared error vocabulary, so the client maps it to KvtierError without a table. */
export type TransportErrorCode = KvtierErrorCode;

/** A refused or failed data-path request, or a broken frame. */
export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    /** Stable reason, e.g. "bad_magic", "oversized", "checksum", "busy". */
    readonly reason: string,
    /** The frame or request field at fault ("" when none). */
    readonly field: string,
    message: string,
    readonly opts: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    // a message from the store already names its field ("field: problem"); a local one gets it here, once
    super(field && !message.startsWith(`${field}: `) ? `${field}: ${message}` : message, { cause: opts.cause });
    this.name = "TransportError";
  }

  get retryAfterMs(): number | undefined {
    return this.opts.retryAfterMs;
  }
}

/** A frame that cannot be parsed: INVALID_ARGUMENT with the reason and field. */
export const frameError = (reason: string, field: string, message: string): TransportError =>
  new TransportError("INVALID_ARGUMENT", reason, field, message);

/** The peer or the connection went away. */
export const unavailable = (reason: string, message: string, cause?: unknown): TransportError =>
  new TransportError("UNAVAILABLE", reason, "", message, { cause });

/** A code read off the wire, narrowed to one we know. */
export function transportCodeOf(name: string): TransportErrorCode {
  return (KVTIER_ERROR_CODES as readonly string[]).includes(name) ? (name as TransportErrorCode) : "INTERNAL";
}
