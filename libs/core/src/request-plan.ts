// The domain form of a routed request (its wire form is kvtier.v1.RequestPlan, converted at the
// service edge by libs/platform): what the router decided and every worker acts on.

/** Sampling as the engine's sampler takes it. */
export interface PlanSampling {
  temperature: number;
  topP: number;
  seed: number;
}

/** A request as the router planned it. */
export interface PlannedRequest {
  requestId: string;
  attempt: number;
  tenant: string;
  tokens: number[];
  blockHashes: Uint8Array[];
  namespaceHash: Uint8Array;
  maxTokens: number;
  sampling: PlanSampling;
  stop: string[];
  logprobs: number;
  codec: string;
  /** Canonical selection policy ("snapkv@25"), or "none". */
  policy: string;
  decodeWorker: string;
  prefillWorker: string;
  traceParent: string;
  deadlineUnixMs: number;
}

/** The engine sequence id of one attempt (an attempt never shares pages state with another). */
export const sequenceId = (p: Pick<PlannedRequest, "requestId" | "attempt">): string => `${p.requestId}@${p.attempt}`;
