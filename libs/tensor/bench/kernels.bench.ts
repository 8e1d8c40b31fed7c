// Benchmarks of the tensor hot paths against their reference implementations, measured in the same run.
// Run: cd /work/main && pnpm exec vitest bench --run libs/tensor/bench
import { bench, describe } from "vitest";
import { fp16Codec } from "../src/codecs/fp16-codec.js";
import { floatToHalfBitsReference } from "../src/codecs/half-float.js";
import { matmulRows, matmulRowsReference } from "../src/kernels/math-kernels.js";
import { Xoshiro128 } from "../src/xoshiro128.js";

const rng = new Xoshiro128(1);
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.nextFloat() - 0.5);

describe("matmul 512x1376, 1 row (decode-shaped)", () => {
  const [n, d] = [512, 1376];
  const x = rand(n);
  const w = rand(n * d);
  const out = new Float32Array(d);
  bench("matmulRowsReference", () => matmulRowsReference(out, x, w, 1, n, d));
  bench("matmulRows", () => matmulRows(out, x, w, 1, n, d));
});

describe("matmul 512x1376, 16 rows (prefill-chunk-shaped)", () => {
  const [n, d, rows] = [512, 1376, 16];
  const x = rand(rows * n);
  const w = rand(n * d);
  const out = new Float32Array(rows * d);
  bench("16 separate 1-row matmuls", () => {
    for (let r = 0; r < rows; r++) matmulRows(out.subarray(r * d), x.subarray(r * n, (r + 1) * n), w, 1, n, d);
  });
  bench("matmulRows batched", () => matmulRows(out, x, w, rows, n, d));
});

describe("fp16 encode 64K values", () => {
  const src = rand(65536);
  const dst = new Uint8Array(fp16Codec.bytesFor(src.length));
  bench("reference (scalar, arithmetic)", () => {
    for (let i = 0; i < src.length; i++) {
      const h = floatToHalfBitsReference(src[i]);
      dst[2 * i] = h & 0xff;
      dst[2 * i + 1] = h >>> 8;
    }
  });
  bench("fp16Codec.encode (bit trick)", () => fp16Codec.encode(src, dst));
});
