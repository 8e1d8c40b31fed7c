import { describe, expect, it } from "vitest";
import { MergeQueue } from "../src/merge-queue.js";
import { Xoshiro128 } from "../src/xoshiro128.js";

interface Entry {
  score: number;
  left: number;
  merged: number;
}

/** run.c's order: higher score first, then the lower left position. */
const popsBefore = (a: Entry, b: Entry): number => (a.score !== b.score ? b.score - a.score : a.left - b.left);

describe("MergeQueue", () => {
  it("pops in (score descending, left ascending) order through interleaved pushes and pops, growing past its capacity", () => {
    const rng = new Xoshiro128(42);
    const queue = new MergeQueue(1);
    const model: Entry[] = [];
    // Few distinct scores (0 and -0 among them) so ties on score are common; lefts are distinct as in the encoder.
    const scores = [0, -0, -1, -2.5, -7, Math.fround(-0.1)];
    let nextLeft = 0;
    for (let round = 0; round < 5000; round++) {
      if (model.length === 0 || rng.nextU32() % 3 !== 0) {
        const e = { score: scores[rng.nextU32() % scores.length], left: nextLeft, merged: rng.nextU32() % 512 };
        nextLeft = (nextLeft + 7919) % 100_003;
        queue.push(e.score, e.left, e.merged);
        model.push(e);
      } else {
        model.sort(popsBefore);
        const want = model.shift()!;
        expect([queue.topScore(), queue.topLeft(), queue.topMerged()]).toEqual([want.score, want.left, want.merged]);
        queue.pop();
      }
      expect(queue.size).toBe(model.length);
    }
  });
});
