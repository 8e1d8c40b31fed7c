// The domain form of a routed request (wire: kvtier.v1.RequestPlan), shared by the router,
// the prefill job and the decode call. Parsing validates what a worker relies on.
import { RequestPlan } from "@kvtier/proto";
import { PolicyError, formatPolicySpec, parsePolicySpec } from "@kvtier/tensor";
import { invalidArgument } from "./errors.js";

/** The canonical form of a plan's policy ("none" when blank); INVALID_ARGUMENT naming `field` if malformed. */
export function canonicalPolicy(policy: string, field: string): string {
  try {
    return formatPolicySpec(parsePolicySpec(policy));
  } catch (err) {
    if (err instanceof PolicyError) throw invalidArgument(field, err.message);
    throw err;
  }
}

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

/** Wire -> domain, refusing what a worker cannot act on. */
export function planFromWire(p: RequestPlan | undefined): PlannedRequest {
  if (!p) throw invalidArgument("plan", "missing");
  if (!p.requestId) throw invalidArgument("plan.request_id", "empty");
  if (p.attempt < 1) throw invalidArgument("plan.attempt", "must be >= 1");
  if (p.tokenIds.length === 0) throw invalidArgument("plan.token_ids", "empty");
  if (p.maxTokens < 1) throw invalidArgument("plan.max_tokens", "must be >= 1");
  if (p.namespaceHash.length !== 16) throw invalidArgument("plan.namespace_hash", "must be 16 bytes");
  if (p.blockHashes.some((h) => h.length !== 16)) throw invalidArgument("plan.block_hashes", "each must be 16 bytes");
  return {
    requestId: p.requestId,
    attempt: p.attempt,
    tenant: p.tenant,
    tokens: [...p.tokenIds],
    blockHashes: p.blockHashes.map((h) => Uint8Array.from(h)),
    namespaceHash: Uint8Array.from(p.namespaceHash),
    maxTokens: p.maxTokens,
    sampling: { temperature: p.sampling?.temperature ?? 0, topP: p.sampling?.topP || 1, seed: p.sampling?.seed ?? 0 },
    stop: [...p.stop],
    logprobs: p.logprobs,
    codec: p.codec,
    policy: canonicalPolicy(p.policy, "plan.policy"),
    decodeWorker: p.decodeWorker,
    prefillWorker: p.prefillWorker,
    traceParent: p.traceParent,
    deadlineUnixMs: p.deadlineUnixMs,
  };
}

/** Domain -> wire. */
export function planToWire(p: PlannedRequest): RequestPlan {
  return {
    requestId: p.requestId,
    attempt: p.attempt,
    tenant: p.tenant,
    tokenIds: p.tokens,
    blockHashes: p.blockHashes,
    namespaceHash: p.namespaceHash,
    maxTokens: p.maxTokens,
    sampling: p.sampling,
    stop: p.stop,
    logprobs: p.logprobs,
    codec: p.codec,
    policy: p.policy,
    decodeWorker: p.decodeWorker,
    prefillWorker: p.prefillWorker,
    traceParent: p.traceParent,
    deadlineUnixMs: p.deadlineUnixMs,
  };
}

/** The engine sequence id of one attempt (an attempt never shares pages state with another). */
export const sequenceId = (p: Pick<PlannedRequest, "requestId" | "attempt">): string => `${p.requestId}@${p.attempt}`;
