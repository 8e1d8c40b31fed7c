// @kvtier/local-stack: runs kvtier on this machine for tests and the CLI — throwaway Redis and
// NATS servers, and the four services as child processes on ephemeral ports in a fresh namespace.
export { startStack } from "./start-stack.js";
export type { Stack, WorkerKind } from "./stack.js";
export type { StackProcess } from "./service-process.js";
export { MAX_WORKERS_PER_KIND } from "./stack-options.js";
export type { StackOptions, ServiceKind, EnvVars } from "./stack-options.js";
export { startRedis } from "./redis-server.js";
export { startNats } from "./nats-server.js";
export type { ManagedServer } from "./managed-server.js";
export { LocalStackError } from "./local-stack-error.js";
export type { LocalStackErrorCode } from "./local-stack-error.js";
