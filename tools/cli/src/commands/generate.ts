// `kvtier generate "<prompt>" --max-tokens N ...`: one Generate call through the router, text
// streamed to stdout as it comes, or (--json) one JSON summary line and nothing else.
import type { GenerateRequest } from "@kvtier/proto";
import { flagString, intFlag, numberFlag, onePositional, parseCommandLine, type FlagSpec } from "../args.js";
import { GenerateTranscript, type GenerateSummary } from "../generate-transcript.js";
import { reportFailure } from "../rpc-failure.js";
import { ROUTER_FLAGS, authMetadata, onFirstReachableRouter, routerTarget, type RouterTarget } from "../router-client.js";
import { UsageError } from "../usage-error.js";

/** Most alternatives per position the router returns (router.proto, GenerateRequest.logprobs). */
const MAX_LOGPROBS = 20;
/** Sampling temperature range (common.proto, SamplingParams.temperature); 0 = greedy. */
const MAX_TEMPERATURE = 2;

const GENERATE_FLAGS = {
  ...ROUTER_FLAGS,
  "max-tokens": { type: "string" },
  temperature: { type: "string" },
  "top-p": { type: "string" },
  seed: { type: "string" },
  stop: { type: "string", multiple: true },
  logprobs: { type: "string" },
  codec: { type: "string" },
  policy: { type: "string" },
  "request-id": { type: "string" },
  json: { type: "boolean" },
} as const satisfies FlagSpec;

/** A parsed `generate` command line. */
export interface GenerateCommand {
  target: RouterTarget;
  request: GenerateRequest;
  /** Print only the JSON summary. */
  json: boolean;
}

/** Parse `generate` arguments; throws a UsageError naming the flag at fault. */
export function parseGenerateArgs(argv: string[], env: Record<string, string | undefined>): GenerateCommand {
  const { values, positionals } = parseCommandLine(argv, GENERATE_FLAGS);
  const prompt = onePositional(positionals, "<prompt>");
  const maxTokens = flagString(values, "max-tokens");
  if (maxTokens === undefined) throw new UsageError("--max-tokens", "required (a positive integer)");
  const optional = <T>(flag: string, parse: (raw: string) => T, fallback: T): T => {
    const raw = flagString(values, flag);
    return raw === undefined ? fallback : parse(raw);
  };
  return {
    target: routerTarget(values, env),
    json: values["json"] === true,
    request: {
      prompt,
      maxTokens: intFlag("--max-tokens", maxTokens, 1),
      sampling: {
        temperature: optional("temperature", (r) => numberFlag("--temperature", r, 0, MAX_TEMPERATURE), 0),
        topP: optional("top-p", (r) => numberFlag("--top-p", r, 0, 1, true), 0),
        seed: optional("seed", (r) => intFlag("--seed", r, 0), 0),
      },
      stop: (values["stop"] as string[] | undefined) ?? [],
      logprobs: optional("logprobs", (r) => intFlag("--logprobs", r, 0, MAX_LOGPROBS), 0),
      requestId: flagString(values, "request-id") ?? "",
      addBos: true,
      codec: flagString(values, "codec") ?? "",
      policy: flagString(values, "policy") ?? "",
      sessionId: "",
    },
  };
}

/**
 * Call Generate and gather the stream; `onText` gets each piece of text as it arrives. Aborting
 * `signal` cancels the call. Rejects with the grpc-js error when the call fails.
 */
export async function callGenerate(
  target: RouterTarget,
  request: GenerateRequest,
  onText: (text: string) => void,
  signal?: AbortSignal,
): Promise<GenerateSummary> {
  return onFirstReachableRouter(target, async (client, reached) => {
    const transcript = new GenerateTranscript(request.logprobs > 0);
    const call = client.generate(request, authMetadata(target.apiKey));
    call.on("metadata", reached);
    const cancel = (): void => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const response of call) {
        const text = transcript.add(response);
        if (text !== "") onText(text);
      }
      if (!transcript.finished) throw new Error("the router ended the stream without a Finished event");
      return transcript.summary();
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  });
}

/** Run `generate`; resolves with the exit status. */
export async function runGenerate(cmd: GenerateCommand, signal?: AbortSignal): Promise<number> {
  try {
    const stream = (text: string): void => {
      if (!cmd.json) process.stdout.write(text);
    };
    const summary = await callGenerate(cmd.target, cmd.request, stream, signal);
    if (cmd.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write("\n");
      process.stderr.write(`${usageLine(summary)}\n`);
    }
    return 0;
  } catch (err) {
    if (!cmd.json) process.stdout.write("\n");
    return reportFailure(err);
  }
}

/** A short human summary of one call, printed to stderr after the text. */
function usageLine(s: GenerateSummary): string {
  const tiers = `device ${s.cached_by_tier.device}, host ${s.cached_by_tier.host}, ssd ${s.cached_by_tier.ssd}`;
  return (
    `[${s.finish_reason}] ${s.prompt_tokens} prompt tokens (${s.cached_tokens} cached: ${tiers}), ${s.completion_tokens} generated, ` +
    `ttft ${s.ttft_ms.toFixed(1)} ms, prefill ${s.prefill_worker || "-"}, decode ${s.decode_worker || "-"}, request ${s.request_id}`
  );
}
