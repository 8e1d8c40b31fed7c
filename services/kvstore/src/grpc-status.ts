// The one place kvstore errors become gRPC statuses.
import { status, type Metadata } from "@grpc/grpc-js";
import { toGrpcStatus } from "@kvtier/platform";
import { BlockConflictError, PutRefusedError, type PutRefusalReason } from "./put-refusal.js";

/** A grpc-js status object for any thrown value. */
export function statusOf(err: unknown): { code: number; details: string; metadata: Metadata } {
  if (err instanceof BlockConflictError) {
    const s = toGrpcStatus(err);
    s.metadata.set("kvtier-field", err.field);
    return { code: status.ALREADY_EXISTS, details: err.message, metadata: s.metadata };
  }
  return toGrpcStatus(err);
}

/** The refusal reason of a put failure, or undefined when it was not a refusal (a bug, a cancel). */
export function refusalReasonOf(err: unknown): PutRefusalReason | undefined {
  if (err instanceof PutRefusedError || err instanceof BlockConflictError) return err.reason;
  return undefined;
}
