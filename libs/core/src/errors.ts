// The error vocabulary every layer shares. A library throws KvtierError with a stable code (a
// gRPC status name), the field at fault and a retry hint; each service maps it to its wire
// status in one place (libs/platform's toGrpcStatus), so no library needs grpc-js for it.

/** Stable codes; they are the gRPC status names the error maps to. */
export type KvtierErrorCode =
  | "INVALID_ARGUMENT"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "CANCELLED"
  | "DEADLINE_EXCEEDED"
  | "DATA_LOSS"
  | "INTERNAL";

/** Every code, for narrowing a name read off the wire. */
export const KVTIER_ERROR_CODES: readonly KvtierErrorCode[] = [
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "UNAVAILABLE",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "ABORTED",
  "CANCELLED",
  "DEADLINE_EXCEEDED",
  "DATA_LOSS",
  "INTERNAL",
];

/** A failure with a stable code, the field it concerns (if any) and an optional retry hint. */
export class KvtierError extends Error {
  constructor(
    readonly code: KvtierErrorCode,
    message: string,
    readonly opts: { field?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "KvtierError";
  }
  get field(): string | undefined {
    return this.opts.field;
  }
  get retryAfterMs(): number | undefined {
    return this.opts.retryAfterMs;
  }
}

/** `INVALID_ARGUMENT` naming the field. */
export const invalidArgument = (field: string, problem: string): KvtierError =>
  new KvtierError("INVALID_ARGUMENT", `${field}: ${problem}`, { field });

/** Narrow an unknown thrown value to a message without assuming its shape. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : JSON.stringify(err);
}
