// Per-position comparison of a method's next-token distribution with the uncompressed one:
// KL(P_ref || P_method), top-1 agreement, and both negative log-likelihoods of the true token.

/** Scores of one position. */
export interface PositionScore {
  kl: number;
  top1: boolean;
  /** -log P_method(target) and -log P_ref(target), nats. */
  nll: number;
  nllRef: number;
}

/** log-softmax of `logits` in float64 into `out`. */
function logSoftmax(logits: Float32Array, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

const scratch = { ref: new Float64Array(0), got: new Float64Array(0) };

/** Compare the method's logits with the reference's at one position whose true next token is `target`. */
export function scorePosition(ref: Float32Array, got: Float32Array, target: number): PositionScore {
  if (ref.length !== got.length) throw new Error(`logit rows differ in length: ${ref.length} vs ${got.length}`);
  if (scratch.ref.length < ref.length) {
    scratch.ref = new Float64Array(ref.length);
    scratch.got = new Float64Array(ref.length);
  }
  const lr = scratch.ref;
  const lg = scratch.got;
  logSoftmax(ref, lr);
  logSoftmax(got, lg);
  let kl = 0;
  for (let i = 0; i < ref.length; i++) kl += Math.exp(lr[i]) * (lr[i] - lg[i]);
  return { kl: Math.max(0, kl), top1: argmax(ref) === argmax(got), nll: -lg[target], nllRef: -lr[target] };
}
