// Why the kvstore refuses a put. Each refusal carries a stable reason (the metrics label), the
// status code it maps to and the request field at fault.
import { KvtierError, type KvtierErrorCode } from "@kvtier/platform";
import type { BlockKey } from "@kvtier/kv-tiers";

/** Stable reasons a put is refused; the `reason` label of kvtier_kvstore_puts_refused_total. */
export type PutRefusalReason =
  /** Messages out of order: no header first, or a second header. */
  | "protocol"
  /** A malformed request field (hash length, empty codec, ack value). */
  | "invalid"
  /** Declared or sent more than the limits allow (header.total_bytes, one chunk). */
  | "oversized"
  /** The stream ended before header.total_bytes arrived. */
  | "truncated"
  /** More bytes arrived than header.total_bytes declared. */
  | "overrun"
  /** The block's own header disagrees with the PutHeader (hash or codec). */
  | "mismatch"
  /** The codec id is not one this build knows. */
  | "unknown_codec"
  /** The block's CRC does not match its bytes. */
  | "checksum"
  /** The block does not parse (magic, version, sizes). */
  | "malformed"
  /** The block's layout (block size) is not the deployment's. */
  | "layout"
  /** Different bytes are already stored under the same (hash, codec). */
  | "conflict"
  /** The block is larger than the tier's whole capacity. */
  | "no_room"
  /** Too many bytes of puts in flight; retry later. */
  | "busy"
  /** ack=durable was asked of a store with no SSD tier. */
  | "durable_unsupported"
  /** ack=durable, and the SSD device is full or the SSD tier has no room (the rest leased). */
  | "disk_full"
  /** ack=durable, and the SSD write failed for another I/O reason. */
  | "disk_error"
  /** The host tier has no room because the rest of it is leased; retry. */
  | "host_full";

/** A refused put; `code` is the gRPC status it maps to. */
export class PutRefusedError extends KvtierError {
  constructor(
    readonly reason: PutRefusalReason,
    code: KvtierErrorCode,
    field: string,
    problem: string,
    opts: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(code, `${field}: ${problem}`, { field, ...opts });
    this.name = "PutRefusedError";
  }
}

/** `INVALID_ARGUMENT` naming the field, with its refusal reason. */
export const refusePut = (reason: PutRefusalReason, field: string, problem: string, cause?: unknown): PutRefusedError =>
  new PutRefusedError(reason, "INVALID_ARGUMENT", field, problem, { cause });

/**
 * Different bytes are already stored under this (hash, codec). Maps to gRPC ALREADY_EXISTS,
 * which the shared KvtierErrorCode does not list, hence its own class.
 */
export class BlockConflictError extends Error {
  readonly code = "ALREADY_EXISTS" as const;
  readonly reason = "conflict" as const;
  readonly field = "block";
  constructor(readonly key: BlockKey) {
    super(`block: a different block is already stored as ${key.id} (delete it first to replace it)`);
    this.name = "BlockConflictError";
  }
}
