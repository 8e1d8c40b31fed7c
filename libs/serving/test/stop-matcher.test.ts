import { describe, expect, it } from "vitest";
import { StopMatcher } from "../src/stop-matcher.js";

function run(stops: string[], pieces: string[]): { out: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let out = "";
  for (const p of pieces) {
    out += m.push(p);
    if (m.stopped) return { out, stopped: true };
  }
  return { out: out + m.finish(), stopped: false };
}

describe("StopMatcher", () => {
  it("cuts before a stop string split across pieces and never emits part of it", () => {
    const m = new StopMatcher(["The end"]);
    const shown = [m.push("Happy. Th"), m.push("e e"), m.push("nd and more")];
    expect(shown.join("")).toBe("Happy. ");
    expect(shown.some((s) => s.includes("Th"))).toBe(false);
    expect(m.stopped).toBe(true);
  });
  it("emits everything when no stop string occurs", () => {
    expect(run(["zzz"], ["ab", "c", "zz", "y"])).toEqual({ out: "abczzy", stopped: false });
  });
  it("takes the earliest of several stop strings", () => {
    expect(run(["dog", "cat"], ["a cat and a dog"])).toEqual({ out: "a ", stopped: true });
  });
  it("without stop strings holds nothing back", () => {
    const m = new StopMatcher([]);
    expect(m.push("abc")).toBe("abc");
  });
});
