// @kvtier/platform: the wiring every service shares (config readers, names, errors, logs,
// metrics, gRPC, NATS, Redis, registry, KV events). No algorithms live here.
export { ConfigError, envString, envOptional, envInt, envBool, envId, ID_PATTERN } from "./env.js";
export {
  registryKey,
  requestKey,
  internalRequestId,
  bullPrefix,
  prefillQueueName,
  prefillJobId,
  kvEventsSubject,
  kvEventsWildcard,
  kvSnapshotSubject,
  loadSubject,
  loadWildcard,
  cancelSubject,
  kvReadySubject,
  kvSnapshotBroadcastSubject,
  routerLoadSubject,
  routerLoadWildcard,
} from "./naming.js";
export { KvtierError, invalidArgument, codeNameOf, messageOf, isGrpcError } from "./errors.js";
export type { KvtierErrorCode } from "./errors.js";
export { createLogger, announceReady } from "./log.js";
export type { Logger, LogLevel } from "./log.js";
export { MetricsEndpoint } from "./metrics.js";
export type { HttpRouteHandler, HttpRouteResponse } from "./metrics.js";
export {
  GRPC_OPTIONS,
  GRPC_HANDSHAKE_TIMEOUT_MS,
  GrpcPort,
  createGrpcServer,
  insecureCredentials,
  internalClientOptions,
  toGrpcStatus,
  STATUS_ORIGIN_TRAILER,
} from "./grpc.js";
export { addGuardedService } from "./grpc-guard.js";
export type { GrpcServerGuard } from "./grpc-guard.js";
export type { ConnectionLimits } from "./connection-guard.js";
export { ServiceToken, SERVICE_TOKEN_HEADER, MIN_SERVICE_TOKEN_CHARS } from "./service-token.js";
export { connectNats, closeNats } from "./nats.js";
export type { NatsConnection } from "./nats.js";
export { connectRedis, closeRedis, redisReady, Redis } from "./redis.js";
export type { RedisRole } from "./redis.js";
export { onShutdown, DRAIN_GRACE_MS } from "./lifecycle.js";
export { readCommonConfig, DEFAULT_MODEL_DIR } from "./common-config.js";
export type { CommonConfig } from "./common-config.js";
export { WorkerRegistry, Heartbeat } from "./worker-registry.js";
export { KvEventAnnouncer } from "./kv-event-announcer.js";
export type { HeldBlocks } from "./kv-event-announcer.js";
export { planFromWire, planToWire } from "./request-plan.js";
export { sequenceId } from "@kvtier/core";
export {
  RETRY_AFTER_FULL_MS,
  RETRY_AFTER_POOL_MS,
  RETRY_AFTER_SHUTDOWN_MS,
  RETRY_AFTER_NO_WORKER_MS,
  RETRY_AFTER_DEPENDENCY_MS,
  RETRY_NOW_MS,
} from "@kvtier/core";
export { batchFromWire, decodeKvEventBatch } from "./wire-events.js";
export type { PlannedRequest } from "./request-plan.js";
export { KvStoreClient } from "./kvstore-client.js";
export type {
  KvStoreClientOptions,
  KvStoreCallOptions,
  KvStorePutOptions,
  KvBlockRun,
  KvBlockPutResult,
  KvStoreInfo,
  KvStoreClientStats,
} from "./kvstore-client.js";
export type { DataPathName } from "@kvtier/kv-transport";
export { Tracing, traceparentOf, startSpan, endSpan } from "./tracing.js";
export type { TracingConfig } from "./tracing.js";
export { WorkerRuntime } from "./worker-runtime.js";
export type { WorkerRuntimeConfig } from "./worker-runtime.js";
