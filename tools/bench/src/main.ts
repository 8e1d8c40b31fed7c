// `pnpm bench <name>`: each benchmark prints its figures and, as its last line, one JSON object
// with ratios against baselines measured in the same run (these machines are shared and noisy).

import type { Benchmark } from "./benchmark.js";

/** Registered benchmarks, by name. Each lives in its own module under src/. */
const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  store: () => import("./store-bench.js").then((m) => m.storeBench),
  eviction: () => import("./eviction-bench.js").then((m) => m.evictionBench),
  router: () => import("./router-bench.js").then((m) => m.routerBench),
  codecs: () => import("./codecs-bench.js").then((m) => m.codecsBench),
  tokenizer: () => import("./tokenizer-bench.js").then((m) => m.tokenizerBench),
};

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name ? BENCHMARKS[name] : undefined;
  if (!load) {
    process.stderr.write(`usage: pnpm bench <${Object.keys(BENCHMARKS).join("|") || "name"}> [args]\n`);
    process.exit(2);
  }
  const summary = await (await load())(args);
  process.stdout.write(JSON.stringify(summary) + "\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
