// @kvtier/core: what every layer shares, with no dependencies (no gRPC, no I/O): the error type
// and its codes, block identity sizes, the request plan's domain types, retry hints, the logger seam.
export { KvtierError, KVTIER_ERROR_CODES, invalidArgument, messageOf } from "./errors.js";
export type { KvtierErrorCode } from "./errors.js";
export { BLOCK_HASH_BYTES } from "./block-identity.js";
export { sequenceId } from "./request-plan.js";
export type { PlannedRequest, PlanSampling } from "./request-plan.js";
export {
  RETRY_AFTER_FULL_MS,
  RETRY_AFTER_POOL_MS,
  RETRY_AFTER_SHUTDOWN_MS,
  RETRY_AFTER_NO_WORKER_MS,
  RETRY_AFTER_DEPENDENCY_MS,
  RETRY_NOW_MS,
} from "./retry-hints.js";
export type { Logger, LogLevel } from "./log.js";
