// The harness loop: per window, the uncompressed reference (engine logits, recorded activations),
// then every method on the same window, scored position by position against the reference.
import { LlamaEngine, type LlamaModel } from "@kvtier/tensor";
import { scorePosition } from "./logit-metrics.js";
import {
  CODEC_SCORE_FROM,
  CODEC_WINDOW_STRIDE_TOKENS,
  POLICY_COMPRESS_AT,
  type EvalWindow,
  type MethodTiming,
  type QualityMethod,
  type ReferenceActivations,
} from "./quality-method.js";
import { recordReference } from "./reference-forward.js";
import { makeWindows, type TextWindow } from "./windows.js";

/** Tokens per KV block in the harness: KIVI's group, so every codec sees whole groups. */
export const HARNESS_BLOCK_TOKENS = 32;

/** One method on one window. */
export interface WindowResult {
  window: number;
  /** Scored positions and their means. */
  positions: number;
  kl: number;
  top1: number;
  nll: number;
  nllRef: number;
  attentionRelError: number;
  storedBytes: number;
  fp16Bytes: number;
  kvPositions: number;
  timing?: MethodTiming;
}

/** Every window's result for one method. */
export interface MethodRun {
  method: QualityMethod;
  windows: WindowResult[];
}

/** What to run. */
export interface QualityRunOptions {
  model: LlamaModel;
  /** The text's tokens, without BOS. */
  textTokens: readonly number[];
  bos: number;
  methods: readonly QualityMethod[];
  /** @default HARNESS_BLOCK_TOKENS */
  blockSize?: number;
  /** Use only the first N windows (quick runs). @default all */
  maxWindows?: number;
  /** Run only the windows this accepts (a share of the work for one worker thread). @default all */
  windowFilter?: (window: TextWindow) => boolean;
  /** Progress lines (one per window). */
  onProgress?: (line: string) => void;
  /** Sees each window's reference activations (extra analyses, e.g. entropy headroom). */
  onReference?: (window: TextWindow, reference: ReferenceActivations) => void;
}

/** The scored span of a method kind on a window of `length` tokens, or null if too short. */
function span(kind: QualityMethod["kind"], length: number): { from: number; to: number; compressAt: number } | null {
  const to = length - 2; // logits at p predict token p + 1
  const from = kind === "codec" ? Math.min(CODEC_SCORE_FROM, to) : POLICY_COMPRESS_AT;
  return from <= to && from >= 0 ? { from, to, compressAt: POLICY_COMPRESS_AT } : null;
}

/** Run every method on every window. */
export function runMethods(opts: QualityRunOptions): { windows: TextWindow[]; runs: MethodRun[] } {
  const blockSize = opts.blockSize ?? HARNESS_BLOCK_TOKENS;
  const windows = makeWindows(opts.textTokens, opts.bos).slice(0, opts.maxWindows ?? Infinity);
  const runs: MethodRun[] = opts.methods.map((method) => ({ method, windows: [] }));
  const plain = new LlamaEngine(opts.model, { blockSize, capacityBlocks: Math.ceil(opts.model.config.seqLen / blockSize) + 1 });
  for (const tw of windows) {
    if (opts.windowFilter !== undefined && !opts.windowFilter(tw)) continue;
    const t0 = performance.now();
    plain.openSequence("reference");
    const refLogits = plain.prefillWithLogits("reference", [...tw.tokens]);
    plain.closeSequence("reference");
    const reference = recordReference(opts.model, tw.tokens);
    opts.onReference?.(tw, reference);
    for (const run of runs) {
      const s = span(run.method.kind, tw.tokens.length);
      if (s === null || (run.method.kind === "codec" && tw.start % CODEC_WINDOW_STRIDE_TOKENS !== 0)) continue;
      const w: EvalWindow = {
        index: tw.index,
        model: opts.model,
        tokens: tw.tokens,
        scoreFrom: s.from,
        scoreTo: s.to,
        compressAt: s.compressAt,
        blockSize,
        reference,
      };
      const out = run.method.evaluate(w);
      const expected = s.to - s.from + 1;
      if (out.logits.length !== expected) {
        throw new Error(`method ${run.method.id} returned ${out.logits.length} logit rows for window ${tw.index}, expected ${expected}`);
      }
      let kl = 0;
      let top1 = 0;
      let nll = 0;
      let nllRef = 0;
      out.logits.forEach((row, i) => {
        const p = s.from + i;
        const sc = scorePosition(refLogits[p], row, tw.tokens[p + 1]);
        kl += sc.kl;
        top1 += sc.top1 ? 1 : 0;
        nll += sc.nll;
        nllRef += sc.nllRef;
      });
      run.windows.push({
        window: tw.index,
        positions: expected,
        kl: kl / expected,
        top1: top1 / expected,
        nll: nll / expected,
        nllRef: nllRef / expected,
        attentionRelError: out.attentionRelError,
        storedBytes: out.storedBytes,
        fp16Bytes: out.fp16Bytes,
        kvPositions: out.positions,
        timing: out.timing,
      });
    }
    opts.onProgress?.(
      `window ${tw.index + 1}/${windows.length} (text tokens ${tw.start}..): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  return { windows, runs };
}
