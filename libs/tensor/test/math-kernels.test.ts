import { describe, expect, it } from "vitest";
import { matmulRows, matmulRowsReference } from "../src/kernels/math-kernels.js";
import { Xoshiro128 } from "../src/xoshiro128.js";

describe("matmulRows", () => {
  it("is bit-identical to the reference for every row, any batch size and odd shapes", () => {
    const rng = new Xoshiro128(123);
    const rand = (len: number): Float32Array => Float32Array.from({ length: len }, () => (rng.nextFloat() - 0.5) * 4);
    for (const [rows, n, d] of [
      [1, 64, 64],
      [1, 13, 7],
      [2, 64, 172],
      [3, 15, 9],
      [7, 172, 64],
      [8, 4, 1],
      [5, 1, 3],
    ]) {
      const x = rand(rows * n);
      const w = rand(n * d);
      const expected = new Float32Array(rows * d);
      matmulRowsReference(expected, x, w, rows, n, d);
      const got = new Float32Array(rows * d);
      matmulRows(got, x, w, rows, n, d);
      expect(got).toEqual(expected);
      // each row alone gives the same as inside the batch
      for (let r = 0; r < rows; r++) {
        const one = new Float32Array(d);
        matmulRows(one, x.subarray(r * n, (r + 1) * n), w, 1, n, d);
        expect(one).toEqual(expected.subarray(r * d, (r + 1) * d));
      }
    }
  });
});
