// gRPC status mapping of the shared error vocabulary (@kvtier/core's KvtierError): each service
// maps errors to statuses in one place (its grpc adapter) with `grpcCodeOf`.
import { status } from "@grpc/grpc-js";
import type { KvtierErrorCode } from "@kvtier/core";

export { KvtierError, invalidArgument, messageOf } from "@kvtier/core";
export type { KvtierErrorCode } from "@kvtier/core";

/** The numeric gRPC status for a code name. */
export function grpcCodeOf(code: KvtierErrorCode): status {
  return status[code];
}

/** The gRPC status name for a numeric code (for errors that arrive from a gRPC peer). */
export function codeNameOf(code: number): KvtierErrorCode {
  const name = status[code] as string | undefined;
  return (name as KvtierErrorCode | undefined) ?? "INTERNAL";
}

/** True for a grpc-js ServiceError-like value carrying a numeric `code`. */
export function isGrpcError(err: unknown): err is Error & { code: number; details?: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number";
}
