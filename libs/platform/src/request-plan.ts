// The wire form of a routed request (kvtier.v1.RequestPlan) to and from its domain form
// (@kvtier/core's PlannedRequest). Parsing validates what a worker relies on.
import { RequestPlan } from "@kvtier/proto";
import { PolicyError, formatPolicySpec, parsePolicySpec } from "@kvtier/tensor";
import { BLOCK_HASH_BYTES, invalidArgument, type PlannedRequest } from "@kvtier/core";

/** The canonical form of a plan's policy ("none" when blank); INVALID_ARGUMENT naming `field` if malformed. */
function canonicalPolicy(policy: string, field: string): string {
  try {
    return formatPolicySpec(parsePolicySpec(policy));
  } catch (err) {
    if (err instanceof PolicyError) throw invalidArgument(field, err.message);
    throw err;
  }
}

export type { PlannedRequest } from "@kvtier/core";

/** Wire -> domain, refusing what a worker cannot act on. */
export function planFromWire(p: RequestPlan | undefined): PlannedRequest {
  if (!p) throw invalidArgument("plan", "missing");
  if (!p.requestId) throw invalidArgument("plan.request_id", "empty");
  if (p.attempt < 1) throw invalidArgument("plan.attempt", "must be >= 1");
  if (p.tokenIds.length === 0) throw invalidArgument("plan.token_ids", "empty");
  if (p.maxTokens < 1) throw invalidArgument("plan.max_tokens", "must be >= 1");
  if (p.namespaceHash.length !== BLOCK_HASH_BYTES) throw invalidArgument("plan.namespace_hash", `must be ${BLOCK_HASH_BYTES} bytes`);
  if (p.blockHashes.some((h) => h.length !== BLOCK_HASH_BYTES))
    throw invalidArgument("plan.block_hashes", `each must be ${BLOCK_HASH_BYTES} bytes`);
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
