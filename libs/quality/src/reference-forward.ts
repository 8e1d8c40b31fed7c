// A plain float64 Llama forward over one window that records what the harness compares against:
// per layer the rotated queries, keys before and after RoPE, values and attention outputs. It
// mirrors the engine's math (llama2.c) for clarity, not speed; logits come from the engine.
import { RMS_NORM_EPS, ROPE_THETA, type LlamaModel, type ModelConfig } from "@kvtier/tensor";
import type { ReferenceActivations } from "./quality-method.js";

/**
 * Rotate `heads` head vectors at `off` in place for position `pos` (pairs (2i, 2i+1), float32 angle
 * chain as llama2.c), so keys decoded from a codec line up with the recorded ones.
 */
function ropeInPlace(x: Float32Array, off: number, heads: number, headDim: number, pos: number): void {
  for (let p = 0; p < headDim / 2; p++) {
    const exponent = Math.fround((2 * p) / headDim);
    const freq = Math.fround(1 / Math.fround(Math.pow(ROPE_THETA, exponent)));
    const angle = Math.fround(pos * freq);
    const c = Math.fround(Math.cos(angle));
    const s = Math.fround(Math.sin(angle));
    for (let h = 0; h < heads; h++) {
      const i = off + h * headDim + 2 * p;
      const v0 = x[i];
      const v1 = x[i + 1];
      x[i] = v0 * c - v1 * s;
      x[i + 1] = v0 * s + v1 * c;
    }
  }
}

/** Rotated copy of pre-RoPE keys laid out [position][nKvHeads * headDim], position 0 first. */
export function rotateKeys(config: ModelConfig, kPre: Float32Array): Float32Array {
  const kvd = config.nKvHeads * config.headDim;
  const out = kPre.slice();
  for (let t = 0; t * kvd < out.length; t++) ropeInPlace(out, t * kvd, config.nKvHeads, config.headDim, t);
  return out;
}

function matvec(out: Float32Array, outOff: number, w: Float32Array, x: Float32Array, xOff: number, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += w[i * n + j] * x[xOff + j];
    out[outOff + i] = s;
  }
}

function rmsNorm(out: Float32Array, x: Float32Array, xOff: number, weight: Float32Array, n: number): void {
  let ss = 0;
  for (let j = 0; j < n; j++) ss += x[xOff + j] * x[xOff + j];
  const scale = 1 / Math.sqrt(ss / n + RMS_NORM_EPS);
  for (let j = 0; j < n; j++) out[j] = weight[j] * scale * x[xOff + j];
}

/**
 * Causal GQA attention of query `pos` (row of `q`) over keys/values 0..pos of one layer, into
 * `out` at `outOff`. Shared by the reference forward and the attention-error measure.
 */
export function attendPosition(
  config: ModelConfig,
  out: Float32Array,
  outOff: number,
  q: Float32Array,
  kRot: Float32Array,
  v: Float32Array,
  pos: number,
  scores: Float64Array,
  visible?: (kvHead: number, key: number) => boolean,
): void {
  const { nHeads, nKvHeads, headDim } = config;
  const dim = nHeads * headDim;
  const kvd = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const inv = 1 / Math.sqrt(headDim);
  for (let h = 0; h < nHeads; h++) {
    const kvh = Math.floor(h / group);
    const qo = pos * dim + h * headDim;
    let max = -Infinity;
    for (let t = 0; t <= pos; t++) {
      if (visible !== undefined && !visible(kvh, t)) {
        scores[t] = -Infinity;
        continue;
      }
      let s = 0;
      const ko = t * kvd + kvh * headDim;
      for (let i = 0; i < headDim; i++) s += q[qo + i] * kRot[ko + i];
      scores[t] = s * inv;
      if (scores[t] > max) max = scores[t];
    }
    let sum = 0;
    for (let t = 0; t <= pos; t++) {
      scores[t] = scores[t] === -Infinity ? 0 : Math.exp(scores[t] - max);
      sum += scores[t];
    }
    const oo = outOff + h * headDim;
    for (let i = 0; i < headDim; i++) {
      let acc = 0;
      for (let t = 0; t <= pos; t++) acc += scores[t] * v[t * kvd + kvh * headDim + i];
      out[oo + i] = sum > 0 ? acc / sum : 0;
    }
  }
}

/** Run the uncompressed forward over `tokens` and record every layer's activations. */
export function recordReference(model: LlamaModel, tokens: readonly number[]): ReferenceActivations {
  const c = model.config;
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim } = c;
  const kvd = nKvHeads * headDim;
  const n = tokens.length;
  const w = model.weights;
  const x = new Float32Array(n * dim);
  tokens.forEach((tok, t) => x.set(w.tokenEmbedding.subarray(tok * dim, (tok + 1) * dim), t * dim));
  const xb = new Float32Array(dim);
  const proj = new Float32Array(dim);
  const hb = new Float32Array(hiddenDim);
  const hb2 = new Float32Array(hiddenDim);
  const scores = new Float64Array(n);
  const layers: ReferenceActivations["layers"][number][] = [];
  for (let l = 0; l < nLayers; l++) {
    const lw = w.layers[l];
    const rec = {
      q: new Float32Array(n * dim),
      kPre: new Float32Array(n * kvd),
      kRot: new Float32Array(n * kvd),
      v: new Float32Array(n * kvd),
      attn: new Float32Array(n * dim),
    };
    for (let t = 0; t < n; t++) {
      rmsNorm(xb, x, t * dim, lw.rmsAtt, dim);
      matvec(rec.q, t * dim, lw.wq, xb, 0, dim, dim);
      matvec(rec.kPre, t * kvd, lw.wk, xb, 0, dim, kvd);
      matvec(rec.v, t * kvd, lw.wv, xb, 0, dim, kvd);
      ropeInPlace(rec.q, t * dim, nHeads, headDim, t);
      rec.kRot.set(rec.kPre.subarray(t * kvd, (t + 1) * kvd), t * kvd);
      ropeInPlace(rec.kRot, t * kvd, nKvHeads, headDim, t);
    }
    for (let t = 0; t < n; t++) {
      attendPosition(c, rec.attn, t * dim, rec.q, rec.kRot, rec.v, t, scores);
      matvec(proj, 0, lw.wo, rec.attn, t * dim, dim, dim);
      for (let j = 0; j < dim; j++) x[t * dim + j] += proj[j];
      rmsNorm(xb, x, t * dim, lw.rmsFfn, dim);
      matvec(hb, 0, lw.w1, xb, 0, dim, hiddenDim);
      matvec(hb2, 0, lw.w3, xb, 0, dim, hiddenDim);
      for (let j = 0; j < hiddenDim; j++) hb[j] = (hb[j] / (1 + Math.exp(-hb[j]))) * hb2[j];
      matvec(proj, 0, lw.w2, hb, 0, hiddenDim, dim);
      for (let j = 0; j < dim; j++) x[t * dim + j] += proj[j];
    }
    layers.push(rec);
  }
  return { layers };
}
