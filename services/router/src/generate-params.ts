// GenerateRequest (wire) -> GenerateParams (domain), with INVALID_ARGUMENT naming each field.
import { createHash } from "node:crypto";
import type { GenerateRequest } from "@kvtier/proto";
import { ID_PATTERN, invalidArgument } from "@kvtier/platform";
import { MAX_STOP_STRINGS, MAX_STOP_STRING_BYTES } from "@kvtier/serving";
import { MAX_TOP_LOGPROBS, PolicyError, formatPolicySpec, parsePolicySpec } from "@kvtier/tensor";
import { chooseCodec } from "./codec-choice.js";
import { MAX_PROMPT_BYTES, MAX_TOKENS_LIMIT } from "./config.js";

/** Highest temperature accepted. */
const MAX_TEMPERATURE = 2;

export interface GenerateParams {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  /** 0 when the caller left it unset (then derived from the request id). */
  seed: number;
  stop: string[];
  logprobs: number;
  requestId: string | undefined;
  addBos: boolean;
  /** Codec id of the request's stored blocks (aliases resolved). */
  codec: string;
  /** Canonical selection policy ("snapkv@25"), or "none". */
  policy: string;
  /** The caller's session key (session affinity, scoped to its tenant), or undefined. */
  sessionId: string | undefined;
}

/** Longest accepted session_id, in UTF-8 bytes. */
const MAX_SESSION_ID_BYTES = 256;

/** The canonical form of a policy spec; INVALID_ARGUMENT naming `field` when it is malformed. */
function parsePolicyField(policy: string, field: string): string {
  try {
    return formatPolicySpec(parsePolicySpec(policy));
  } catch (err) {
    if (err instanceof PolicyError) throw invalidArgument(field, err.message);
    throw err;
  }
}

/**
 * Wire request -> domain parameters; `defaultPolicy` (canonical) applies when `policy` is blank.
 * The codec is resolved to its id and checked against `blockSize` (KIVI needs >= 32).
 */
export function parseGenerateRequest(
  req: GenerateRequest,
  defaultCodec: string,
  knownCodecs: readonly string[],
  defaultPolicy = "none",
  blockSize = Number.MAX_SAFE_INTEGER,
): GenerateParams {
  if (req.prompt.length === 0) throw invalidArgument("prompt", "empty");
  if (Buffer.byteLength(req.prompt) > MAX_PROMPT_BYTES) throw invalidArgument("prompt", `longer than ${MAX_PROMPT_BYTES} bytes`);
  if (req.maxTokens < 1) throw invalidArgument("max_tokens", "must be at least 1");
  if (req.maxTokens > MAX_TOKENS_LIMIT) throw invalidArgument("max_tokens", `must be at most ${MAX_TOKENS_LIMIT}`);
  const s = req.sampling;
  const temperature = s?.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > MAX_TEMPERATURE) {
    throw invalidArgument("sampling.temperature", `must be within [0, ${MAX_TEMPERATURE}], got ${temperature}`);
  }
  const topP = s?.topP ?? 0;
  if (!Number.isFinite(topP) || topP < 0 || topP > 1)
    throw invalidArgument("sampling.top_p", `must be within (0, 1] (0 = unset), got ${topP}`);
  if (req.stop.length > MAX_STOP_STRINGS) throw invalidArgument("stop", `at most ${MAX_STOP_STRINGS} stop strings`);
  req.stop.forEach((x, i) => {
    if (x.length === 0) throw invalidArgument(`stop[${i}]`, "empty");
    if (Buffer.byteLength(x) > MAX_STOP_STRING_BYTES) throw invalidArgument(`stop[${i}]`, `longer than ${MAX_STOP_STRING_BYTES} bytes`);
  });
  if (req.logprobs > MAX_TOP_LOGPROBS) throw invalidArgument("logprobs", `at most ${MAX_TOP_LOGPROBS}`);
  if (req.requestId !== "" && !ID_PATTERN.test(req.requestId)) throw invalidArgument("request_id", `must match ${ID_PATTERN}`);
  const codec = chooseCodec(req.codec.trim() || defaultCodec, knownCodecs, blockSize, (problem) => invalidArgument("codec", problem));
  const policy = req.policy.trim() === "" ? defaultPolicy : parsePolicyField(req.policy, "policy");
  const sessionId = req.sessionId ?? "";
  if (Buffer.byteLength(sessionId) > MAX_SESSION_ID_BYTES) throw invalidArgument("session_id", `longer than ${MAX_SESSION_ID_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(sessionId)) throw invalidArgument("session_id", "control characters are not allowed");
  return {
    prompt: req.prompt,
    maxTokens: req.maxTokens,
    temperature,
    topP: topP === 0 ? 1 : topP,
    seed: s?.seed ?? 0,
    stop: [...req.stop],
    logprobs: req.logprobs,
    requestId: req.requestId || undefined,
    addBos: req.addBos,
    codec,
    policy,
    sessionId: sessionId === "" ? undefined : sessionId,
  };
}

/** A seed for a request that set none: stable for the request id, so a retried attempt samples alike. */
export function seedFor(requestId: string): number {
  return createHash("sha256").update(requestId).digest().readUInt32LE(0) || 1;
}

/**
 * Refuse a prompt that does not fit the model context with room for max_tokens. With
 * `atLeast`, `promptTokens` is a lower bound (from the prompt's byte length, before tokenizing).
 */
export function checkContext(promptTokens: number, maxTokens: number, seqLen: number, atLeast = false): void {
  const count = atLeast ? `at least ${promptTokens} tokens (from its length)` : `${promptTokens} tokens`;
  if (promptTokens >= seqLen) throw invalidArgument("prompt", `${count} do not fit the model context of ${seqLen}`);
  if (promptTokens + maxTokens > seqLen) {
    throw invalidArgument("max_tokens", `prompt (${count}) plus max_tokens (${maxTokens}) exceeds the model context of ${seqLen}`);
  }
}
