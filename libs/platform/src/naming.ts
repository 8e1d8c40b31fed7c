// Every Redis key, BullMQ queue name, job id and NATS subject is built here and nowhere else.
// `ns` is the deployment namespace (KVTIER_NAMESPACE); tests use a random one each.

/** Redis hash: worker id -> WorkerInfo JSON (refreshed by each heartbeat). */
export const registryKey = (ns: string): string => `${ns}:workers`;

/**
 * The id a request has inside the system: the caller's id scoped to its tenant, so that one
 * tenant can neither see nor block another tenant's ids. Tenant ids hold no '.'.
 */
export const internalRequestId = (tenant: string, clientRequestId: string): string => `${tenant}.${clientRequestId}`;

/** Redis hash of one request's state (attempt, assigned workers, status), for cancel and idempotency. */
export const requestKey = (ns: string, requestId: string): string => `${ns}:req:${requestId}`;

/** BullMQ key prefix (BullMQ appends `:<queue>:...`). */
export const bullPrefix = (ns: string): string => `${ns}:bull`;

/** A prefill worker's own BullMQ queue (queue names may not contain ':'). */
export const prefillQueueName = (workerId: string): string => `prefill-${workerId}`;

/**
 * BullMQ job id of a prefill attempt. DESIGN.md asks for `requestId:attempt`, but BullMQ refuses
 * custom ids with one ':' (reserved for repeatable jobs), so the separator is '@'.
 */
export const prefillJobId = (requestId: string, attempt: number): string => `${requestId}@${attempt}`;

/** NATS: KV events of one announcer (a worker's device pool, a kvstore's tiers). */
export const kvEventsSubject = (ns: string, announcerId: string): string => `${ns}.kv.events.${announcerId}`;
/** NATS wildcard over every announcer's KV events. */
export const kvEventsWildcard = (ns: string): string => `${ns}.kv.events.*`;
/** NATS request/reply: ask one announcer for a snapshot of what it holds. */
export const kvSnapshotSubject = (ns: string, announcerId: string): string => `${ns}.kv.snapshot.${announcerId}`;
/** NATS request, many replies: every announcer (workers and kvstores) answers with its snapshot (discovery). */
export const kvSnapshotBroadcastSubject = (ns: string): string => `${ns}.kv.snapshot-all`;
/** NATS: one router replica's in-flight load and session placements, shared with its peers. */
export const routerLoadSubject = (ns: string, routerId: string): string => `${ns}.router.load.${routerId}`;
/** NATS wildcard over every router replica's load shares. */
export const routerLoadWildcard = (ns: string): string => `${ns}.router.load.*`;
/** NATS: a worker's load reports. */
export const loadSubject = (ns: string, workerId: string): string => `${ns}.load.${workerId}`;
export const loadWildcard = (ns: string): string => `${ns}.load.*`;
/** NATS broadcast: cancel a request everywhere. */
export const cancelSubject = (ns: string): string => `${ns}.cancel`;
/** NATS request/reply: a prefill worker tells a decode worker that a request's KV is ready. */
export const kvReadySubject = (ns: string, decodeWorkerId: string): string => `${ns}.kvready.${decodeWorkerId}`;
