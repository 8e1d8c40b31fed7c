// `pnpm bench tokenizer`: Tokenizer.encode on tok512 over texts of 1 to 256 KB, and how long
// encodeAsync holds the event loop on the 256 KB texts.
//
// Two texts: the story prompt ("Once upon a time ..." repeated, as the router's long prompts) and a
// mixed one (the story with accented words, CJK, emoji and typographic quotes, which take the
// codepoint and byte-fallback paths). Each size reports the median time of one encode, and its
// time per KB; the baseline is the same text's 1 KB time per KB, measured in the same run. An
// encoder linear up to a log factor keeps per_kb_ratio_256k_vs_1k near 1 (target: at most 2);
// the headline figure is the worse of the two texts. The loop hold is the longest gap between two
// turns of a setImmediate chain running beside encodeAsync (default slice), the worst of the runs;
// its baseline is the same chain's longest gap on an idle loop for as long (the machine's own
// scheduling noise, which no slicing removes).
import { join } from "node:path";
import { setImmediate as setImmediatePromise, setTimeout as setTimeoutPromise } from "node:timers/promises";
import { DEFAULT_MODEL_DIR, envOptional } from "@kvtier/platform";
import { Tokenizer } from "@kvtier/tensor";
import type { Benchmark } from "./benchmark.js";

/** tok512's vocabulary size. */
const TOK512_VOCAB_SIZE = 512;
/** Text sizes timed, in KB (1024 bytes). */
const BENCH_SIZES_KB = [1, 4, 16, 64, 256];
/** Timed runs per size and text; the median counts. */
const BENCH_RUNS = 9;
/** Untimed runs first (JIT). */
const BENCH_WARMUP_RUNS = 2;
/** A timed run encodes the text until it has covered at least this many bytes, so small texts are not lost in timer noise. */
const BENCH_BYTES_PER_RUN = 256 * 1024;
/** encodeAsync runs on each 256 KB text while the loop's turns are timed. */
const BENCH_LOOP_HOLD_RUNS = 5;

const STORY = "Once upon a time there was a little girl named Lily. She liked to play outside. ";
const MIXED =
  "Once upon a time, Zoë met a café owner named José. “Let’s play!” she said — 世界 was big 🌍. " +
  "They ate crème brûlée and laughed 😀. Lily said “naïve” in 日本語. ";

/** `unit` repeated and cut to exactly `bytes` UTF-8 bytes, never inside a codepoint (then padded with spaces). */
function textOfBytes(unit: string, bytes: number): string {
  const parts: string[] = [];
  let length = 0;
  const unitBytes = Buffer.byteLength(unit);
  while (length + unitBytes <= bytes) {
    parts.push(unit);
    length += unitBytes;
  }
  for (const ch of unit) {
    const n = Buffer.byteLength(ch);
    if (length + n > bytes) break;
    parts.push(ch);
    length += n;
  }
  return parts.join("") + " ".repeat(bytes - length);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median ms of one `encode` of `text`. */
function timeEncode(tok: Tokenizer, text: string): number {
  const reps = Math.max(1, Math.ceil(BENCH_BYTES_PER_RUN / Buffer.byteLength(text)));
  const runs: number[] = [];
  for (let r = 0; r < BENCH_WARMUP_RUNS + BENCH_RUNS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) tok.encode(text, { bos: true });
    if (r >= BENCH_WARMUP_RUNS) runs.push((performance.now() - t0) / reps);
  }
  return median(runs);
}

/**
 * Start timing the gaps between event-loop turns (a setImmediate chain); the returned function stops it and gives the longest gap, in ms.
 */
function watchLoopTurns(): () => number {
  let running = true;
  let longestMs = 0;
  let last = performance.now();
  const turn = (): void => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    running = false;
    // The gap from the last turn to now counts too: the loop is held until the caller got here.
    return Math.max(longestMs, performance.now() - last);
  };
}

interface LoopHold {
  /** Longest gap between loop turns over all runs, in ms. */
  maxHoldMs: number;
  /** Median over the runs of each run's longest gap, in ms. */
  medianRunHoldMs: number;
  /** Median time of one encodeAsync, in ms. */
  asyncMs: number;
  /** Longest gap of the same chain on an idle loop for as long as all runs took, in ms. */
  idleMaxGapMs: number;
}

/** How long encodeAsync(text) holds the event loop, after untimed warm-up runs. */
async function loopHold(tok: Tokenizer, text: string): Promise<LoopHold> {
  const holds: number[] = [];
  const totals: number[] = [];
  for (let r = 0; r < BENCH_WARMUP_RUNS + BENCH_LOOP_HOLD_RUNS; r++) {
    const stop = watchLoopTurns();
    const t0 = performance.now();
    await tok.encodeAsync(text, { bos: true });
    const total = performance.now() - t0;
    const hold = stop();
    await setImmediatePromise();
    if (r < BENCH_WARMUP_RUNS) continue;
    totals.push(total);
    holds.push(hold);
  }
  // The baseline: the same chain with nothing else to run shows the machine's own scheduling gaps.
  const stop = watchLoopTurns();
  await setTimeoutPromise(totals.reduce((a, b) => a + b, 0));
  const idleMaxGapMs = stop();
  return { maxHoldMs: Math.max(...holds), medianRunHoldMs: median(holds), asyncMs: median(totals), idleMaxGapMs };
}

const f = (x: number, d = 3): string => x.toFixed(d).padStart(10);

/** Time encode per size on both texts, then encodeAsync's loop hold on the 256 KB texts. */
export const tokenizerBench: Benchmark = async () => {
  const modelDir = envOptional(process.env, "KVTIER_MODEL_DIR") ?? DEFAULT_MODEL_DIR;
  const tok = Tokenizer.fromFile(join(modelDir, "tok512.bin"), TOK512_VOCAB_SIZE);
  const summary: Record<string, unknown> = {};
  const ratios: number[] = [];
  let maxHoldMs = 0;
  let idleMaxGapMs = 0;
  for (const [name, unit] of [
    ["story", STORY],
    ["mixed", MIXED],
  ] as const) {
    process.stdout.write(`\n${name} text, encode with BOS, median of ${BENCH_RUNS} runs\n`);
    process.stdout.write("    size          ms     ms/KB  ms/KB vs 1 KB   tokens\n");
    let perKb1k = 0;
    let perKb256k = 0;
    const row: Record<string, number> = {};
    for (const kb of BENCH_SIZES_KB) {
      const text = textOfBytes(unit, kb * 1024);
      const ms = timeEncode(tok, text);
      const perKb = ms / kb;
      if (kb === 1) perKb1k = perKb;
      if (kb === 256) perKb256k = perKb;
      const tokens = tok.encode(text, { bos: true }).length;
      process.stdout.write(`${String(kb).padStart(5)} KB${f(ms)}${f(perKb, 4)}${f(perKb / perKb1k)}     ${String(tokens).padStart(7)}\n`);
      row[`ms_${kb}k`] = Number(ms.toFixed(3));
    }
    const ratio = perKb256k / perKb1k;
    const hold = await loopHold(tok, textOfBytes(unit, 256 * 1024));
    process.stdout.write(
      `encodeAsync 256 KB (default slice), ${BENCH_LOOP_HOLD_RUNS} runs: longest loop hold ${hold.maxHoldMs.toFixed(3)} ms (median of the runs' longest ${hold.medianRunHoldMs.toFixed(3)} ms; ` +
        `idle loop's longest gap over as long ${hold.idleMaxGapMs.toFixed(3)} ms); ${hold.asyncMs.toFixed(1)} ms in all (encode ${row["ms_256k"].toFixed(1)} ms, holding the loop throughout)\n`,
    );
    ratios.push(ratio);
    maxHoldMs = Math.max(maxHoldMs, hold.maxHoldMs);
    idleMaxGapMs = Math.max(idleMaxGapMs, hold.idleMaxGapMs);
    summary[name] = {
      ...row,
      per_kb_ratio_256k_vs_1k: Number(ratio.toFixed(3)),
      max_loop_hold_ms_256k: Number(hold.maxHoldMs.toFixed(3)),
      median_run_hold_ms_256k: Number(hold.medianRunHoldMs.toFixed(3)),
      idle_max_gap_ms: Number(hold.idleMaxGapMs.toFixed(3)),
      async_ms_256k: Number(hold.asyncMs.toFixed(3)),
    };
  }
  return {
    benchmark: "tokenizer",
    per_kb_ratio_256k_vs_1k: Number(Math.max(...ratios).toFixed(3)),
    max_loop_hold_ms_256k: Number(maxHoldMs.toFixed(3)),
    idle_max_gap_ms: Number(idleMaxGapMs.toFixed(3)),
    ...summary,
  };
};
