// @kvtier/platform: the wiring every service shares (config readers, names, errors, logs,
// metrics, gRPC, NATS, Redis, registry, KV events). No algorithms live here.
export { ConfigError, envString, envOptional, envInt, envBool, envId, ID_PATTERN } from "./env.js";
export {
  registryKey, requestKey, internalRequestId, bullPrefix, prefillQueueName, prefillJobId, kvEventsSubject, kvEventsWildcard,
  kvSnapshotSubject, loadSubject, loadWildcard, cancelSubject, kvReadySubject, kvSnapshotBroadcastSubject, routerLoadSubject,
  routerLoadWildcard,
} from "./naming.js";
export { KvtierError, invalidArgument, grpcCodeOf, codeNameOf, messageOf, isGrpcError } from "./errors.js";
export type { KvtierErrorCode } from "./errors.js";
export { createLogger, announceReady } from "./log.js";
export type { Logger, LogLevel } from "./log.js";
export { MetricsEndpoint } from "./metrics.js";
export type { HttpRouteHandler, HttpRouteResponse } from "./metrics.js";
export {
  MAX_GRPC_MESSAGE_BYTES, GRPC_OPTIONS, GRPC_KEEPALIVE_TIME_MS, GRPC_KEEPALIVE_TIMEOUT_MS, GRPC_IDLE_CONNECTION_MS,
  GRPC_HANDSHAKE_TIMEOUT_MS, GRPC_SILENT_CONNECTION_MS, GRPC_MAX_CONNECTIONS_PER_PORT, GRPC_CONNECTION_LIMITS, GrpcPort, createGrpcServer,
  insecureCredentials, internalClientOptions, toGrpcStatus, STATUS_ORIGIN_TRAILER,
} from "./grpc.js";
export { addGuardedService, tolerantDefinition, guardInterceptor, statusName, MalformedRequest } from "./grpc-guard.js";
export type { GrpcServerGuard } from "./grpc-guard.js";
export { ConnectionGuard, CONNECTION_SWEEP_INTERVAL_MS } from "./connection-guard.js";
export type { ConnectionLimits } from "./connection-guard.js";
export { ServiceToken, SERVICE_TOKEN_HEADER, MIN_SERVICE_TOKEN_CHARS, MAX_SERVICE_TOKEN_CHARS } from "./service-token.js";
export { connectNats, closeNats } from "./nats.js";
export type { NatsConnection } from "./nats.js";
export { connectRedis, closeRedis, redisReady, Redis, REDIS_COMMAND_TIMEOUT_MS, REDIS_READY_TIMEOUT_MS } from "./redis.js";
export type { RedisRole } from "./redis.js";
export { onShutdown, SHUTDOWN_GRACE_MS } from "./lifecycle.js";
export { readCommonConfig, readServiceToken, DEFAULT_HEARTBEAT_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_BLOCK_SIZE, DEFAULT_MODEL_DIR } from "./common-config.js";
export type { CommonConfig } from "./common-config.js";
export { WorkerRegistry, Heartbeat } from "./worker-registry.js";
export { KvEventAnnouncer, SNAPSHOT_HASHES_PER_EVENT, MAX_SNAPSHOT_BYTES } from "./kv-event-announcer.js";
export type { HeldBlocks } from "./kv-event-announcer.js";
export { planFromWire, planToWire } from "./request-plan.js";
export { sequenceId } from "@kvtier/core";
export {
  RETRY_AFTER_FULL_MS, RETRY_AFTER_POOL_MS, RETRY_AFTER_SHUTDOWN_MS, RETRY_AFTER_NO_WORKER_MS, RETRY_AFTER_DEPENDENCY_MS, RETRY_NOW_MS,
} from "@kvtier/core";
export { batchFromWire } from "./wire-events.js";
export type { PlannedRequest, PlanSampling } from "./request-plan.js";
export { KvStoreClient, DEFAULT_KVSTORE_DEADLINE_MS, DEFAULT_DATA_PATHS, RESELECT_AFTER_MS } from "./kvstore-client.js";
export type {
  KvStoreClientOptions, KvStoreCallOptions, KvStorePutOptions, KvBlockRun, KvBlockPutResult, KvStoreInfo, KvStoreClientStats,
} from "./kvstore-client.js";
export type { DataPathName } from "@kvtier/kv-transport";
export { Tracing, traceparentOf, contextOf, startSpan, endSpan, inSpan } from "./tracing.js";
export type { TracingConfig } from "./tracing.js";
export { WorkerRuntime } from "./worker-runtime.js";
export type { WorkerRuntimeConfig } from "./worker-runtime.js";
export { DeviceTier } from "./device-tier.js";
export type { BlockAnnouncer } from "./device-tier.js";
