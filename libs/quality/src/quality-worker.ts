// Worker-thread entry of the parallel harness: run a share of the windows with the default
// registry and post the per-window results and the entropy probe's state.
import { parentPort, workerData } from "node:worker_threads";
import { defaultMethodRegistry } from "./default-methods.js";
import { entropyProbe, loadInputs } from "./harness-inputs.js";
import { CODEC_WINDOW_STRIDE_TOKENS } from "./quality-method.js";
import { runMethods } from "./run-quality.js";
import type { WindowJob, WindowJobResult } from "./window-workers.js";

const job = workerData as WindowJob;
const inputs = loadInputs(job.modelDir, job.textPath);
const registry = defaultMethodRegistry();
const probe = entropyProbe(inputs.model);
const mine = new Set(job.windows);
const { runs } = runMethods({
  model: inputs.model,
  textTokens: inputs.textTokens,
  bos: inputs.bos,
  methods: job.methodIds.map((id) => registry.get(id)),
  maxWindows: job.maxWindows,
  windowFilter: (w) => mine.has(w.index),
  onProgress: (line) => parentPort?.postMessage({ progress: line }),
  onReference: (w, reference) => {
    if (w.start % CODEC_WINDOW_STRIDE_TOKENS === 0) probe.add(reference, w.start / CODEC_WINDOW_STRIDE_TOKENS);
  },
});
const done: WindowJobResult = { results: runs.map((r) => [r.method.id, r.windows]), probe: probe.state() };
parentPort?.postMessage({ done });
