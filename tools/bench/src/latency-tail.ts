// Where a latency tail comes from, for the benchmarks: each query's start and duration, the
// garbage collections seen meanwhile, and how many of the slowest queries overlapped one.
import { PerformanceObserver } from "node:perf_hooks";

/** Each query's start (performance.now(), ms) and duration (us), in query order. */
export interface QueryTimes {
  startMs: Float64Array;
  us: Float64Array;
}

export const queryTimes = (queries: number): QueryTimes => ({ startMs: new Float64Array(queries), us: new Float64Array(queries) });

/** Garbage collections seen by a PerformanceObserver: [start, end] in performance.now() ms. */
export function watchGc(): { pauses: Array<[number, number]>; stop: () => Promise<void> } {
  const pauses: Array<[number, number]> = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push([e.startTime, e.startTime + e.duration]);
  });
  obs.observe({ entryTypes: ["gc"] });
  // entries are delivered asynchronously: let the last ones arrive before disconnecting
  const stop = (): Promise<void> => new Promise((resolve) => setTimeout(() => (obs.disconnect(), resolve()), 20));
  return { pauses, stop };
}

/** Of the queries that took `thresholdUs` or more (the p99, say), how many overlapped a garbage collection. */
export function tailDuringGc(
  times: QueryTimes,
  thresholdUs: number,
  pauses: ReadonlyArray<[number, number]>,
): { tail: number; duringGc: number } {
  let tail = 0;
  let duringGc = 0;
  for (let i = 0; i < times.us.length; i++) {
    if (times.us[i] < thresholdUs) continue;
    tail += 1;
    const start = times.startMs[i];
    const end = start + times.us[i] / 1e3;
    if (pauses.some(([a, b]) => a < end && b > start)) duringGc += 1;
  }
  return { tail, duringGc };
}
