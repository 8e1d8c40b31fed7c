// Test inputs for codecs: seeded random segments and adversarial ones (outlier channels, zeros,
// constants, NaN/±Inf, values beyond fp16, subnormals, signed zeros).
import { segmentGeometry, type AffineCodecSpec } from "../src/codecs/affine-spec.js";
import type { KvSegmentShape } from "../src/codecs/kv-codec.js";

/** A seeded uniform [0, 1) generator (LCG; plenty for test data). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A named test segment. */
export interface SegmentCase {
  name: string;
  segment: KvSegmentShape;
  values: Float32Array;
}

/** Shapes covering partial groups, odd channel counts and single tokens. */
export const SHAPES: readonly Omit<KvSegmentShape, "kind">[] = [
  { tokens: 32, nKvHeads: 4, headDim: 8 },
  { tokens: 16, nKvHeads: 4, headDim: 8 },
  { tokens: 1, nKvHeads: 4, headDim: 8 },
  { tokens: 7, nKvHeads: 3, headDim: 5 },
  { tokens: 64, nKvHeads: 2, headDim: 24 },
  { tokens: 33, nKvHeads: 1, headDim: 3 },
];

function fill(n: number, f: (i: number) => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

/** Random and adversarial segments for one shape and kind. */
export function segmentCases(shape: Omit<KvSegmentShape, "kind">, kind: "k" | "v", seed: number): SegmentCase[] {
  const segment: KvSegmentShape = { kind, ...shape };
  const channels = shape.nKvHeads * shape.headDim;
  const n = shape.tokens * channels;
  const rnd = prng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e-39, 7e4, -1e6, 3.4e38];
  const cases: [string, Float32Array][] = [
    ["uniform", fill(n, () => (rnd() - 0.5) * 8)],
    ["gaussian", fill(n, () => gauss() * 1.5)],
    ["outlier channels", fill(n, (i) => gauss() * (i % channels === 3 || i % channels === channels - 1 ? 25 : 1))],
    ["outlier token", fill(n, (i) => gauss() * (Math.floor(i / channels) === 0 ? 60 : 1))],
    ["zeros", new Float32Array(n)],
    ["constant", fill(n, () => -2.75)],
    ["tiny range", fill(n, () => 1000 + rnd() * 1e-3)],
    ["subnormal", fill(n, () => (rnd() - 0.5) * 1e-6)],
    ["specials", fill(n, (i) => (i % 5 === 0 ? specials[Math.floor(rnd() * specials.length)] : gauss()))],
    ["all nan", fill(n, () => NaN)],
  ];
  return cases.map(([name, values]) => ({ name, segment, values }));
}

/** True when two float arrays are equal bit for bit, counting any NaN equal to any NaN. */
export function sameFloats(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i]) continue;
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    return false;
  }
  return true;
}

/** Index of the first differing byte, or -1. */
export function firstByteDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** An affine decoder (fast, JS, reference: they share this signature). */
export type AffineDecode = (spec: AffineCodecSpec, src: Uint8Array, dst: Float32Array, segment: KvSegmentShape) => void;

/** Whether two decoders give the same floats on arbitrary bytes (NaN, Inf, subnormal parameters) of each key segment shape. */
export function decodersAgreeOnRandomBytes(
  spec: AffineCodecSpec,
  shapes: readonly Omit<KvSegmentShape, "kind">[],
  seed: number,
  a: AffineDecode,
  b: AffineDecode,
): boolean {
  const rnd = prng(seed);
  for (const shape of shapes) {
    const segment = { kind: "k" as const, ...shape };
    const n = shape.tokens * shape.nKvHeads * shape.headDim;
    const bytes = new Uint8Array(segmentGeometry(spec, n, segment).totalBytes).map(() => Math.floor(rnd() * 256));
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    a(spec, bytes, x, segment);
    b(spec, bytes, y, segment);
    if (!sameFloats(x, y)) return false;
  }
  return true;
}
