import { describe, expect, it } from "vitest";
import { holderAt, holderCount, withHolder, withoutHolders, type HolderList } from "../src/holder-list.js";
import { mulberry32, randInt } from "./support/prng.js";

const all = (l: HolderList | undefined): number[] =>
  l === undefined ? [] : Array.from({ length: holderCount(l) }, (_, i) => holderAt(l, i));

describe("holder lists", () => {
  it("round-trips holders across the whole 30-bit range", () => {
    const big = [0, 1, 0xffff, 0x10000, 0x3fffffff, 0x2aaa5555];
    let l: HolderList | undefined;
    for (const h of big) l = withHolder(l, h);
    expect(all(l)).toEqual(big);
    expect(typeof withHolder(undefined, 7)).toBe("number");
  });

  it("adds idempotently and removes by predicate", () => {
    let l = withHolder(withHolder(undefined, 5), 0x12345678);
    expect(withHolder(l, 5)).toBe(l);
    l = withHolder(l, 9);
    expect(all(withoutHolders(l, (h) => h === 0x12345678))).toEqual([5, 9]);
    expect(withoutHolders(l, (h) => h === 5 || h === 9)).toBe(0x12345678); // back to a plain number
    expect(withoutHolders(l, () => true)).toBeUndefined();
    expect(withoutHolders(l, () => false)).toBe(l);
  });

  it("matches a plain Set under random adds and removes", () => {
    const rng = mulberry32(99);
    let l: HolderList | undefined;
    const ref = new Set<number>();
    for (let step = 0; step < 5000; step++) {
      const h = randInt(rng, 8) * 0x07ffffff; // few distinct values, spread over 30 bits
      if (rng() < 0.6) {
        l = withHolder(l, h);
        ref.add(h);
      } else if (l !== undefined) {
        l = withoutHolders(l, (x) => x === h);
        ref.delete(h);
      }
      expect(all(l)).toHaveLength(ref.size);
      expect(new Set(all(l))).toEqual(ref);
    }
  });
});
