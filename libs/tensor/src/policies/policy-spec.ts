// Selection-policy specs ("snapkv@25": method, then the budget as a percent of the prompt
// positions): parsing, formatting, and the budget in positions.
import { PolicyError } from "./policy-error.js";

/** Every selection / eviction method the engine runs. */
export const POLICY_METHODS = ["snapkv", "pyramidkv", "chunkkv", "streamingllm", "h2o", "quest", "adaptivekv"] as const;

/** One of {@link POLICY_METHODS}. */
export type PolicyMethod = (typeof POLICY_METHODS)[number];

/** A method and its budget. */
export interface PolicySpec {
  method: PolicyMethod;
  /** Kept share of the prompt positions, in percent, within (0, 100]. */
  budgetPercent: number;
  /**
   * Vote pooling kernel of the SnapKV-based methods (snapkv, pyramidkv, adaptivekv), in positions;
   * absent = the paper's SNAPKV_KERNEL_SIZE scaled to the voted budget (`snapKvKernel`: 3 for prompts
   * of a few hundred tokens). Written ",kernel=N" after the budget (an ablation knob).
   */
  kernel?: number;
}

/** Methods that pool votes SnapKV's way (and so take a ",kernel=N" option). */
const POOLING_METHODS: readonly PolicyMethod[] = ["snapkv", "pyramidkv", "adaptivekv"];
/** Largest pooling kernel accepted, in positions. */
const MAX_POOL_KERNEL = 31;

/** The spec text meaning "no policy" (the blank string means the same). */
export const NO_POLICY = "none";
/** Longest spec text accepted, in characters. */
export const MAX_POLICY_SPEC_CHARS = 32;

const SPEC_PATTERN = /^([a-z0-9]+)@(\d{1,3}(?:\.\d{1,3})?)(?:,kernel=(\d{1,2}))?$/;

/** Parse "method@percent"; "" and "none" give null. Throws PolicyError naming what is wrong. */
export function parsePolicySpec(text: string): PolicySpec | null {
  const t = text.trim();
  if (t === "" || t === NO_POLICY) return null;
  if (t.length > MAX_POLICY_SPEC_CHARS)
    throw new PolicyError(
      "BAD_SPEC",
      `policy "${t.slice(0, MAX_POLICY_SPEC_CHARS)}..." is longer than ${MAX_POLICY_SPEC_CHARS} characters`,
    );
  const m = SPEC_PATTERN.exec(t);
  if (m === null)
    throw new PolicyError("BAD_SPEC", `policy "${t}" must look like "snapkv@25" (method@percent[,kernel=N]) or be "${NO_POLICY}"`);
  const method = m[1];
  if (!(POLICY_METHODS as readonly string[]).includes(method)) {
    throw new PolicyError("UNKNOWN_METHOD", `unknown policy method "${method}" (known: ${POLICY_METHODS.join(", ")})`);
  }
  const budgetPercent = Number(m[2]);
  if (!(budgetPercent > 0 && budgetPercent <= 100)) throw new PolicyError("BAD_BUDGET", `policy budget ${m[2]}% must be within (0, 100]`);
  if (m[3] === undefined) return { method: method as PolicyMethod, budgetPercent };
  const kernel = Number(m[3]);
  if (!POOLING_METHODS.includes(method as PolicyMethod))
    throw new PolicyError("BAD_SPEC", `policy ${method} takes no kernel (only ${POOLING_METHODS.join(", ")})`);
  if (kernel < 1 || kernel > MAX_POOL_KERNEL || kernel % 2 === 0)
    throw new PolicyError("BAD_SPEC", `pooling kernel ${kernel} must be odd, within 1..${MAX_POOL_KERNEL}`);
  return { method: method as PolicyMethod, budgetPercent, kernel };
}

/** The canonical text of a spec ("snapkv@12.5"). */
export function formatPolicySpec(spec: PolicySpec | null): string {
  if (spec === null) return NO_POLICY;
  return `${spec.method}@${spec.budgetPercent}${spec.kernel === undefined ? "" : `,kernel=${spec.kernel}`}`;
}

/** Kept positions per KV head (on average over layers) for a prompt: round(n * percent / 100), at least 1. */
export function budgetTokens(spec: PolicySpec, promptTokens: number): number {
  if (!Number.isInteger(promptTokens) || promptTokens < 1) throw new PolicyError("BAD_STATS", `prompt of ${promptTokens} tokens`);
  return Math.min(promptTokens, Math.max(1, Math.round((promptTokens * spec.budgetPercent) / 100)));
}
