// What a plan's selection policy means for the blocks a request may take from cache. One copy
// for cached prefill, the residual window and both hand-offs.
import type { PlannedRequest } from "@kvtier/core";
import { parsePolicySpec, rowsToCompute } from "@kvtier/tensor";

/** Whether the plan names a selection policy. */
export const hasPolicy = (plan: Pick<PlannedRequest, "policy">): boolean => parsePolicySpec(plan.policy) !== null;

/** Whether the plan's policy hands off sparse blocks (every policy but Quest, which selects at read time). */
export const handsOffSparse = (plan: Pick<PlannedRequest, "policy">): boolean => {
  const spec = parsePolicySpec(plan.policy);
  return spec !== null && spec.method !== "quest";
};

/** Leading prompt blocks a policy request may take from cache: its statistics need the last rows computed. */
export function policyReusableBlocks(plan: Pick<PlannedRequest, "policy" | "tokens">, blockSize: number, reusable: number): number {
  const spec = parsePolicySpec(plan.policy);
  if (spec === null) return reusable;
  const n = plan.tokens.length;
  return Math.min(reusable, Math.floor((n - rowsToCompute(spec, n)) / blockSize));
}
