// The error vocabulary shared by the services. Each service maps these to gRPC statuses in one
// place (its grpc adapter) with `grpcCodeOf`.
import { status } from "@grpc/grpc-js";

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

/** The numeric gRPC status for a code name. */
export function grpcCodeOf(code: KvtierErrorCode): status {
  return status[code];
}

/** The gRPC status name for a numeric code (for errors that arrive from a gRPC peer). */
export function codeNameOf(code: number): KvtierErrorCode {
  const name = status[code] as string | undefined;
  return (name as KvtierErrorCode | undefined) ?? "INTERNAL";
}

/** Narrow an unknown thrown value to a message without assuming its shape. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : JSON.stringify(err);
}

/** True for a grpc-js ServiceError-like value carrying a numeric `code`. */
export function isGrpcError(err: unknown): err is Error & { code: number; details?: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number";
}
