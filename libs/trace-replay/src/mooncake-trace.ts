// Mooncake-format request traces (FAST'25): one JSON object a line with `timestamp` (ms),
// `input_length` and `output_length` (tokens) and `hash_ids`, one id per 512-token block, an id
// naming the block together with every block before it (prefix-chained). Parsing and writing
// only; no simulation here.
import { ReplayError } from "./replay-error.js";

/** Tokens one trace block id stands for (the trace's own block size). */
export const TRACE_BLOCK_TOKENS = 512;
/** Longest accepted trace line, in characters (a 128K-token prompt's ids fit in well under this). */
const MAX_TRACE_LINE_CHARS = 4 * 1024 * 1024;

/** One request of a trace. */
export interface TraceRequest {
  /** Arrival time, milliseconds from the trace start. */
  timestampMs: number;
  /** Prompt tokens. */
  inputTokens: number;
  /** Generated tokens. */
  outputTokens: number;
  /** One id per block of up to TRACE_BLOCK_TOKENS prompt tokens, prefix-chained. */
  blockIds: number[];
}

function field(line: number, name: string, problem: string): ReplayError {
  return new ReplayError("TRACE_FORMAT", `line ${line}: ${name}`, problem);
}

function nonNegativeInt(v: unknown, line: number, name: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw field(line, name, `expected an integer >= 0, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Parses a trace (JSONL; blank lines skipped). Timestamps must not decrease.
 * @throws {ReplayError} `TRACE_FORMAT` naming the line and field of the first bad request.
 */
export function parseMooncakeTrace(text: string): TraceRequest[] {
  const out: TraceRequest[] = [];
  const lines = text.split("\n");
  let last = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "") continue;
    const line = i + 1;
    if (raw.length > MAX_TRACE_LINE_CHARS) throw field(line, "line", `longer than ${MAX_TRACE_LINE_CHARS} characters`);
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      throw new ReplayError("TRACE_FORMAT", `line ${line}`, "not JSON", { cause: err });
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw field(line, "line", "expected a JSON object");
    const o = obj as Record<string, unknown>;
    const ts = o.timestamp;
    if (typeof ts !== "number" || !Number.isFinite(ts) || ts < 0)
      throw field(line, "timestamp", `expected milliseconds >= 0, got ${JSON.stringify(ts)}`);
    if (ts < last) throw field(line, "timestamp", `${ts} is before the previous request's ${last} (a trace is in arrival order)`);
    last = ts;
    const inputTokens = nonNegativeInt(o.input_length, line, "input_length");
    const outputTokens = nonNegativeInt(o.output_length ?? 0, line, "output_length");
    if (!Array.isArray(o.hash_ids)) throw field(line, "hash_ids", "expected an array of block ids");
    const blockIds = o.hash_ids.map((id, j) => nonNegativeInt(id, line, `hash_ids[${j}]`));
    if (inputTokens > 0 && blockIds.length === 0) throw field(line, "hash_ids", `empty for ${inputTokens} input tokens`);
    out.push({ timestampMs: ts, inputTokens, outputTokens, blockIds });
  }
  return out;
}

/** The trace as Mooncake-format JSONL (field names and order as in the published trace). */
export function formatMooncakeTrace(requests: readonly TraceRequest[]): string {
  return requests
    .map(
      (r) =>
        `{"timestamp": ${r.timestampMs}, "input_length": ${r.inputTokens}, "output_length": ${r.outputTokens}, "hash_ids": [${r.blockIds.join(", ")}]}\n`,
    )
    .join("");
}

/** Arrival span of a trace in seconds (0 for fewer than two requests). */
export function traceDurationS(requests: readonly TraceRequest[]): number {
  return requests.length < 2 ? 0 : (requests[requests.length - 1].timestampMs - requests[0].timestampMs) / 1000;
}
