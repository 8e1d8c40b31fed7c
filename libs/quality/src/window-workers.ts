// Runs a harness over worker threads, windows dealt round-robin: each worker loads the model and
// the default method registry itself and sends back plain per-window results and its entropy
// probe's state. Only for the default registry (methods are code, not data). Runs dist/ files.
import { Worker } from "node:worker_threads";
import type { EntropyProbeState } from "./entropy-headroom.js";
import type { WindowResult } from "./run-quality.js";

/** What one worker is asked to do. */
export interface WindowJob {
  modelDir: string;
  textPath: string;
  methodIds: readonly string[];
  maxWindows: number | undefined;
  /** This worker's window indices. */
  windows: readonly number[];
}

/** What one worker sends back. */
export interface WindowJobResult {
  results: [string, WindowResult[]][];
  probe: EntropyProbeState;
}

const WORKER_URL = new URL("./quality-worker.js", import.meta.url);

/** Run `windowCount` windows over `jobs` workers; per method id, results in window order, and every probe state. */
export async function runInWorkers(
  base: Omit<WindowJob, "windows">,
  windowCount: number,
  jobs: number,
  log?: (line: string) => void,
): Promise<{ results: Map<string, WindowResult[]>; probes: EntropyProbeState[] }> {
  const shares = Array.from({ length: Math.min(jobs, windowCount) }, (_, j) =>
    Array.from({ length: windowCount }, (_, i) => i).filter((i) => i % jobs === j),
  );
  const outcomes = await Promise.all(
    shares.map(
      (windows) =>
        new Promise<WindowJobResult>((resolveJob, rejectJob) => {
          const worker = new Worker(WORKER_URL, { workerData: { ...base, windows } satisfies WindowJob });
          worker.on("message", (m: { progress: string } | { done: WindowJobResult }) => {
            if ("progress" in m) log?.(m.progress);
            else resolveJob(m.done);
          });
          worker.on("error", rejectJob);
          worker.on("exit", (code) => code !== 0 && rejectJob(new Error(`quality worker exited with ${code}`)));
        }),
    ),
  );
  const results = new Map<string, WindowResult[]>();
  for (const o of outcomes) for (const [id, ws] of o.results) results.set(id, [...(results.get(id) ?? []), ...ws]);
  for (const ws of results.values()) ws.sort((a, b) => a.window - b.window);
  return { results, probes: outcomes.map((o) => o.probe) };
}
