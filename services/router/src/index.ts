// @kvtier/router: the client-facing router service (entry point: dist/main.js).
export { readRouterConfig, MAX_TOKENS_LIMIT, MAX_PROMPT_BYTES, MAX_LOGPROBS } from "./config.js";
export type { RouterConfig } from "./config.js";
export { authenticate, ANONYMOUS_TENANT } from "./auth.js";
export { parseGenerateRequest, checkContext } from "./generate-params.js";
export { readRoutingConfig } from "./config.js";
export type { RoutingConfig } from "./config.js";
export { describeIndex, digestOf } from "./index-debug.js";
export type { LiveWorker } from "./worker-table.js";
