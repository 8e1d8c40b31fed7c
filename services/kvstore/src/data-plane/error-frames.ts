// The one place kvstore errors become fast-path error bodies (what grpc-status.ts is for gRPC):
// the same status names, fields and refusal reasons as the gRPC path, so a client sees the same
// failure whichever path carried the request.
import { KvtierError, messageOf } from "@kvtier/platform";
import { TransportError, transportCodeOf, type ErrorBody } from "@kvtier/kv-transport";
import { BlockConflictError, PutRefusedError } from "../put-refusal.js";

/** The error body for any thrown value; unknown errors are INTERNAL with their message. */
export function errorBodyOf(err: unknown): ErrorBody {
  if (err instanceof PutRefusedError) {
    return {
      code: transportCodeOf(err.code),
      reason: err.reason,
      field: err.field ?? "",
      message: err.message,
      retryAfterMs: err.retryAfterMs ?? 0,
    };
  }
  if (err instanceof BlockConflictError)
    return { code: "ALREADY_EXISTS", reason: err.reason, field: err.field, message: err.message, retryAfterMs: 0 };
  if (err instanceof TransportError)
    return { code: err.code, reason: err.reason, field: err.field, message: err.message, retryAfterMs: err.retryAfterMs ?? 0 };
  if (err instanceof KvtierError) {
    return {
      code: transportCodeOf(err.code),
      reason: "invalid",
      field: err.field ?? "",
      message: err.message,
      retryAfterMs: err.retryAfterMs ?? 0,
    };
  }
  return { code: "INTERNAL", reason: "internal", field: "", message: messageOf(err), retryAfterMs: 0 };
}

/** The refusal reason of a put failure (for kvtier_kvstore_puts_refused_total), if it was one. */
export function putRefusalOf(err: unknown): PutRefusedError["reason"] | BlockConflictError["reason"] | undefined {
  if (err instanceof PutRefusedError || err instanceof BlockConflictError) return err.reason;
  return undefined;
}
