// Generated token ids -> client text: incremental UTF-8-safe detokenization, then stop strings.
// The decode worker runs it to know when a stop string ends a request; the router runs the
// same thing to produce the text it streams, so both agree on where a request stopped.
import { IncrementalDetokenizer, type Tokenizer } from "@kvtier/tensor";
import { StopMatcher } from "./stop-matcher.js";

/** Token ids that end generation (llama2.c ends a story at BOS; EOS likewise). */
const END_TOKENS: ReadonlySet<number> = new Set([1, 2]);

/** What one generated token produced. */
export interface TextStep {
  /** Text safe to show now (may be empty while a character or a possible stop string is pending). */
  text: string;
  /** The token ends generation: an end token or a completed stop string. */
  finishReason: "eos" | "stop" | undefined;
}

/** One request's output text. */
export class TextStream {
  private readonly detok: IncrementalDetokenizer;
  private readonly stops: StopMatcher;

  constructor(tokenizer: Tokenizer, lastPromptToken: number, stop: readonly string[]) {
    this.detok = new IncrementalDetokenizer(tokenizer, lastPromptToken);
    this.stops = new StopMatcher(stop);
  }

  push(token: number): TextStep {
    if (END_TOKENS.has(token)) return { text: "", finishReason: "eos" };
    const text = this.stops.push(this.detok.push(token));
    return { text, finishReason: this.stops.stopped ? "stop" : undefined };
  }

  /** End of stream: what the detokenizer and the stop matcher still held. */
  finish(): string {
    if (this.stops.stopped) return "";
    return this.stops.push(this.detok.flush()) + this.stops.finish();
  }
}
