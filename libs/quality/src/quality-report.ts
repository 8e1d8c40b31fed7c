// The harness report: what was run, every method's summary and the paired comparisons; and the
// one-line JSON (keyed by method) that `kvtier eval-quality` prints last.
import { CODEC_SCORE_FROM, CODEC_WINDOW_STRIDE_TOKENS, POLICY_COMPRESS_AT, WINDOW_STRIDE_TOKENS, WINDOW_TOKENS } from "./quality-method.js";
import type { EntropyHeadroom } from "./entropy-headroom.js";
import type { ComparisonSummary, MethodSummary } from "./summarize.js";

/** Everything one harness run measured. */
export interface QualityReport {
  model: string;
  text: { source: string; tokens: number; windows: number };
  protocol: {
    window_tokens: number;
    stride_tokens: number;
    codec_stride_tokens: number;
    codec_score_from: number;
    policy_compress_at: number;
    block_size: number;
  };
  wall_seconds: number;
  methods: MethodSummary[];
  comparisons: ComparisonSummary[];
  /** CacheGen-style entropy-coding headroom of the integer codecs (empty when not measured). */
  entropy_headroom: EntropyHeadroom[];
}

/** Assemble a report. */
export function buildReport(
  model: string,
  text: QualityReport["text"],
  blockSize: number,
  wallSeconds: number,
  methods: MethodSummary[],
  comparisons: ComparisonSummary[],
  entropyHeadroom: EntropyHeadroom[] = [],
): QualityReport {
  return {
    model,
    text,
    protocol: {
      window_tokens: WINDOW_TOKENS,
      stride_tokens: WINDOW_STRIDE_TOKENS,
      codec_stride_tokens: CODEC_WINDOW_STRIDE_TOKENS,
      codec_score_from: CODEC_SCORE_FROM,
      policy_compress_at: POLICY_COMPRESS_AT,
      block_size: blockSize,
    },
    wall_seconds: wallSeconds,
    methods,
    comparisons,
    entropy_headroom: entropyHeadroom,
  };
}

const round = (x: number | null, digits: number): number | null =>
  x === null || !Number.isFinite(x) ? null : Number(x.toPrecision(digits));

/** The last line: one JSON object keyed by method id with its headline figures. */
export function lastLineJson(r: QualityReport): string {
  const out: Record<string, Record<string, number | null | string>> = {};
  for (const m of r.methods) {
    out[m.id] = {
      kind: m.kind,
      ratio_vs_fp16: round(m.ratio_vs_fp16, 4),
      kl: round(m.kl, 4),
      top1: round(m.top1, 5),
      ppl_delta: round(m.ppl_delta, 4),
      bytes_per_token: round(m.bytes_per_token, 5),
      attn_rel_err: round(m.attn_rel_err, 4),
      encode_gbps: round(m.encode_gbps, 3),
      decode_gbps: round(m.decode_gbps, 3),
    };
  }
  return JSON.stringify(out);
}
