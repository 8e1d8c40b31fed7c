// @kvtier/decode: the decode worker service (entry point: dist/main.js).
export { readDecodeConfig, DEFAULT_MAX_BATCH } from "./config.js";
export type { DecodeConfig } from "./config.js";
