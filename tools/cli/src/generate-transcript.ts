// What a Generate stream said, gathered event by event into the summary `generate --json` prints
// (snake_case, like the proto fields), and that `up --demo` prints as its usage JSON.
import type { GenerateResponse, PositionLogprobs, TierCounts, Usage } from "@kvtier/proto";

/** One sampled position's log-probabilities, as printed. */
export interface LogprobsJson {
  token_id: number;
  logprob: number;
  top: { token_id: number; logprob: number }[];
}

/** The summary of one Generate call. */
export interface GenerateSummary {
  text: string;
  tokens: number[];
  request_id: string;
  finish_reason: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cached_by_tier: TierCounts;
  computed_prompt_tokens: number;
  loaded_bytes_by_tier: TierCounts;
  transferred_bytes: number;
  /** Router-observed time to first token. */
  ttft_ms: number;
  prefill_worker: string;
  decode_worker: string;
  disaggregated: boolean;
  /** KV codec and selection policy of the request ("none": no policy). */
  codec: string;
  policy: string;
  /** Selection policies: (layer, kv head, position) entries kept when compressing, of prompt_kv_entries. */
  kept_kv_entries: number;
  prompt_kv_entries: number;
  /** Client-observed time from the call to the first text, and to the end. */
  client_ttft_ms: number | null;
  elapsed_ms: number;
  logprobs?: LogprobsJson[];
}

const ZERO_TIERS: TierCounts = { device: 0, host: 0, ssd: 0 };
const tiers = (t: TierCounts | undefined): TierCounts => ({ device: t?.device ?? 0, host: t?.host ?? 0, ssd: t?.ssd ?? 0 });
const logprobsJson = (p: PositionLogprobs): LogprobsJson => ({
  token_id: p.chosen?.tokenId ?? 0,
  logprob: p.chosen?.logprob ?? 0,
  top: p.top.map((t) => ({ token_id: t.tokenId, logprob: t.logprob })),
});

/** Accumulates the events of one Generate stream. */
export class GenerateTranscript {
  private readonly startedAt = performance.now();
  private firstTokenAt: number | undefined;
  private requestId = "";
  private promptTokens = 0;
  private readonly text: string[] = [];
  private readonly tokens: number[] = [];
  private readonly logprobs: PositionLogprobs[] = [];
  private finishReason: string | undefined;
  private usage: Usage | undefined;

  constructor(private readonly wantLogprobs: boolean) {}

  /** Take one event; returns the text it adds (to stream), possibly empty. */
  add(response: GenerateResponse): string {
    const event = response.event;
    switch (event?.$case) {
      case "started":
        this.requestId = event.value.requestId;
        this.promptTokens = event.value.promptTokens;
        return "";
      case "tokens":
        this.firstTokenAt ??= performance.now();
        this.tokens.push(...event.value.tokenIds);
        this.logprobs.push(...event.value.logprobs);
        this.text.push(event.value.text);
        return event.value.text;
      case "finished":
        this.finishReason = event.value.finishReason;
        this.usage = event.value.usage;
        this.text.push(event.value.textTail);
        return event.value.textTail;
      default:
        return "";
    }
  }

  /** True once the Finished event came. */
  get finished(): boolean {
    return this.finishReason !== undefined;
  }

  /** The summary so far. */
  summary(): GenerateSummary {
    const u = this.usage;
    const summary: GenerateSummary = {
      text: this.text.join(""),
      tokens: [...this.tokens],
      request_id: this.requestId,
      finish_reason: this.finishReason ?? "",
      prompt_tokens: u?.promptTokens ?? this.promptTokens,
      completion_tokens: u?.completionTokens ?? this.tokens.length,
      cached_tokens: u?.cachedTokens ?? 0,
      cached_by_tier: u ? tiers(u.cachedByTier) : { ...ZERO_TIERS },
      computed_prompt_tokens: u?.computedPromptTokens ?? 0,
      loaded_bytes_by_tier: u ? tiers(u.loadedBytesByTier) : { ...ZERO_TIERS },
      transferred_bytes: u?.transferredBytes ?? 0,
      ttft_ms: u?.ttftMs ?? 0,
      prefill_worker: u?.prefillWorker ?? "",
      decode_worker: u?.decodeWorker ?? "",
      disaggregated: u?.disaggregated ?? false,
      codec: u?.codec ?? "",
      policy: u?.policy ?? "",
      kept_kv_entries: u?.keptKvEntries ?? 0,
      prompt_kv_entries: u?.promptKvEntries ?? 0,
      client_ttft_ms: this.firstTokenAt === undefined ? null : round(this.firstTokenAt - this.startedAt),
      elapsed_ms: round(performance.now() - this.startedAt),
    };
    if (this.wantLogprobs) summary.logprobs = this.logprobs.map(logprobsJson);
    return summary;
  }
}

/** Milliseconds to 0.01 ms. */
const round = (ms: number): number => Math.round(ms * 100) / 100;
