// The route tail's diagnostics: which slow queries overlapped a garbage collection, and a real
// collection seen by the watcher.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { queryTimes, tailDuringGc, watchGc } from "../src/latency-tail.js";

describe("tailDuringGc", () => {
  it("counts the queries at or above the threshold, and those of them that overlapped a pause", () => {
    const t = queryTimes(5);
    // starts in ms, durations in us: query 1 (slow) overlaps the pause, query 3 (slow) does not,
    // query 2 (fast) overlaps it but is not in the tail; query 4 ends exactly where the pause begins
    t.startMs.set([0, 10, 10.5, 30, 19.9]);
    t.us.set([5, 900, 5, 800, 100]);
    const pauses: Array<[number, number]> = [
      [10.4, 10.6],
      [20, 21],
    ];
    expect(tailDuringGc(t, 100, pauses)).toEqual({ tail: 3, duringGc: 1 });
    expect(tailDuringGc(t, 850, pauses)).toEqual({ tail: 1, duringGc: 1 });
    expect(tailDuringGc(t, 100, [])).toEqual({ tail: 3, duringGc: 0 });
  });
});

describe("watchGc", () => {
  it("sees a forced collection", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const watch = watchGc();
    gc();
    await watch.stop();
    expect(watch.pauses.length).toBeGreaterThan(0);
    const [start, end] = watch.pauses[0];
    expect(end).toBeGreaterThanOrEqual(start);
  });
});
