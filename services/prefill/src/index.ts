// @kvtier/prefill: the prefill worker service (entry point: dist/main.js).
export { readPrefillConfig } from "./config.js";
export type { PrefillConfig } from "./config.js";
