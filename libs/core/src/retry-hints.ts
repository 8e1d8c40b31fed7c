// How long a refused caller should wait before trying again, by cause (the retry-after-ms a
// status carries). Named once, used wherever the refusal is made.

/** A worker's KV pool or running-request limit is full: capacity frees as requests finish. */
export const RETRY_AFTER_FULL_MS = 250;
/** The KV pool cannot reserve a request's room right now. */
export const RETRY_AFTER_POOL_MS = 500;
/** A worker is shutting down: another one takes the request. */
export const RETRY_AFTER_SHUTDOWN_MS = 100;
/** No worker can take the request (none registered, or all refused): workers join within a heartbeat. */
export const RETRY_AFTER_NO_WORKER_MS = 1_000;
/** A dependency (Redis) cannot be reached: outages are retried after this long. */
export const RETRY_AFTER_DEPENDENCY_MS = 1_000;
/** Try another worker now (the one asked was lost). */
export const RETRY_NOW_MS = 0;
