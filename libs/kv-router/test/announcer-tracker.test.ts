import { describe, expect, it } from "vitest";
import { AnnouncerTracker, RETIRED_INCARNATIONS_KEPT } from "../src/announcer-tracker.js";
import { PrefixIndexError } from "../src/errors.js";

describe("AnnouncerTracker", () => {
  it("first contact is a restart; seq 1 owes no snapshot", () => {
    const t = new AnnouncerTracker();
    expect(t.accept("w1", "inc-a", 1, false)).toBe("restart");
    expect(t.awaitingSnapshot("w1")).toBe(false);
    expect(t.accept("w1", "inc-a", 2, false)).toBe("apply");
    expect(t.accept("w1", "inc-a", 3, false)).toBe("apply");
    expect(t.state("w1")).toEqual({ incarnation: "inc-a", lastSeq: 3, awaitingSnapshot: false });
  });

  it("joining mid-stream (router restarted) is a restart that owes a snapshot", () => {
    const t = new AnnouncerTracker();
    expect(t.accept("w1", "inc-a", 500, false)).toBe("restart");
    expect(t.awaitingSnapshot("w1")).toBe(true);
    expect(t.accept("w1", "inc-a", 501, false)).toBe("apply");
    expect(t.accept("w1", "inc-a", 501, true)).toBe("apply");
    expect(t.awaitingSnapshot("w1")).toBe(false);
  });

  it("a restart whose first batch is a snapshot owes nothing", () => {
    const t = new AnnouncerTracker();
    expect(t.accept("w1", "inc-a", 0, true)).toBe("restart");
    expect(t.awaitingSnapshot("w1")).toBe(false);
    expect(t.accept("w1", "inc-a", 1, false)).toBe("apply");
  });

  it("old or repeated seqs are duplicates", () => {
    const t = new AnnouncerTracker();
    t.accept("w1", "inc-a", 1, false);
    t.accept("w1", "inc-a", 2, false);
    expect(t.accept("w1", "inc-a", 2, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 1, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 3, false)).toBe("apply");
  });

  it("a skipped seq is a gap, reported once, and a snapshot closes it", () => {
    const t = new AnnouncerTracker();
    t.accept("w1", "inc-a", 1, false);
    expect(t.accept("w1", "inc-a", 4, false)).toBe("gap");
    expect(t.awaitingSnapshot("w1")).toBe(true);
    expect(t.accept("w1", "inc-a", 5, false)).toBe("apply"); // no second gap for the same hole
    expect(t.accept("w1", "inc-a", 5, true)).toBe("apply");
    expect(t.awaitingSnapshot("w1")).toBe(false);
    expect(t.accept("w1", "inc-a", 5, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 6, false)).toBe("apply");
  });

  it("a snapshot resets the expected seq", () => {
    const t = new AnnouncerTracker();
    t.accept("w1", "inc-a", 1, false);
    expect(t.accept("w1", "inc-a", 9, true)).toBe("apply");
    expect(t.accept("w1", "inc-a", 9, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 10, false)).toBe("apply");
  });

  it("a snapshot older than what was applied is stale, unless a gap is being repaired", () => {
    const t = new AnnouncerTracker();
    for (let s = 1; s <= 5; s++) t.accept("w1", "inc-a", s, false);
    expect(t.accept("w1", "inc-a", 3, true)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 8, false)).toBe("gap");
    expect(t.accept("w1", "inc-a", 9, false)).toBe("apply");
    // The reply was taken before 9 arrived: still the best repair; 10 then shows what is missing.
    expect(t.accept("w1", "inc-a", 8, true)).toBe("apply");
    expect(t.accept("w1", "inc-a", 10, false)).toBe("gap");
  });

  it("a new incarnation is a restart; late batches of the old one are old news", () => {
    const t = new AnnouncerTracker();
    t.accept("w1", "inc-a", 1, false);
    t.accept("w1", "inc-a", 2, false);
    expect(t.accept("w1", "inc-b", 1, false)).toBe("restart");
    expect(t.awaitingSnapshot("w1")).toBe(false);
    expect(t.accept("w1", "inc-a", 3, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-a", 3, true)).toBe("duplicate");
    expect(t.accept("w1", "inc-b", 2, false)).toBe("apply");
    expect(t.state("w1")!.incarnation).toBe("inc-b");
  });

  it(`remembers only ${RETIRED_INCARNATIONS_KEPT} retired incarnations`, () => {
    const t = new AnnouncerTracker();
    // inc-0 … inc-K+1: the current one is inc-K+1, retired are inc-K … inc-1, inc-0 is forgotten.
    for (let i = 0; i <= RETIRED_INCARNATIONS_KEPT + 1; i++) t.accept("w1", `inc-${i}`, 1, false);
    for (let i = 1; i <= RETIRED_INCARNATIONS_KEPT; i++) expect(t.accept("w1", `inc-${i}`, 2, false)).toBe("duplicate");
    expect(t.accept("w1", "inc-0", 2, false)).toBe("restart");
  });

  it("tracks announcers independently and forgets on request", () => {
    const t = new AnnouncerTracker();
    t.accept("w1", "inc-a", 1, false);
    expect(t.accept("kv", "inc-a", 7, false)).toBe("restart");
    expect(t.accept("w1", "inc-a", 2, false)).toBe("apply");
    expect(t.size()).toBe(2);
    t.forget("w1");
    expect(t.state("w1")).toBeUndefined();
    expect(t.accept("w1", "inc-a", 3, false)).toBe("restart");
  });

  it("refuses bad seqs and ids", () => {
    const t = new AnnouncerTracker();
    const cases: [Parameters<AnnouncerTracker["accept"]>, string][] = [
      [["w1", "inc", 0, false], "seq"],
      [["w1", "inc", -1, true], "seq"],
      [["w1", "inc", 1.5, false], "seq"],
      [["", "inc", 1, false], "announcerId"],
      [["w1", "", 1, false], "incarnation"],
    ];
    for (const [args, field] of cases) {
      try {
        t.accept(...args);
        expect.unreachable(`accepted ${JSON.stringify(args)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(PrefixIndexError);
        expect((e as PrefixIndexError).field).toBe(field);
      }
    }
    expect(t.size()).toBe(0);
  });

  it("resync adopts a snapshot's incarnation and seq, refusing a retired incarnation", () => {
    const t = new AnnouncerTracker();
    expect(t.resync("w1", "inc-a", 7)).toBe(true);
    expect(t.state("w1")).toEqual({ incarnation: "inc-a", lastSeq: 7, awaitingSnapshot: false });
    expect(t.accept("w1", "inc-a", 8, false)).toBe("apply");
    expect(t.accept("w1", "inc-b", 1, false)).toBe("restart");
    expect(t.resync("w1", "inc-a", 9)).toBe(false); // inc-a is retired
    expect(t.state("w1")?.incarnation).toBe("inc-b");
    t.requireSnapshot("w1");
    expect(t.awaiting()).toEqual(["w1"]);
    expect(t.resync("w1", "inc-b", 1)).toBe(true);
    expect(t.awaiting()).toEqual([]);
    expect(() => t.resync("w1", "inc-b", -1)).toThrow(PrefixIndexError);
  });
});
