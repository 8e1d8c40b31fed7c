// Selection policies as pure functions: exact budgets, sinks and windows kept, pyramid sums,
// Quest's page bound, spec parsing. Random cases come from a seeded generator.
import { describe, expect, it } from "vitest";
import { adaptiveBudgets } from "../src/policies/adaptive-kv.js";
import { AttentionStatsCollector, type AttentionStats } from "../src/policies/attention-stats.js";
import { selectChunkKvHead } from "../src/policies/chunkkv.js";
import { h2oRecent, h2oVictim } from "../src/policies/h2o.js";
import { planSelection } from "../src/policies/plan-selection.js";
import { PolicyError } from "../src/policies/policy-error.js";
import { budgetTokens, formatPolicySpec, parsePolicySpec, POLICY_METHODS, type PolicySpec } from "../src/policies/policy-spec.js";
import { pyramidBudgets } from "../src/policies/pyramidkv.js";
import { questPageBound, selectQuestPages } from "../src/policies/quest.js";
import { distributeBudget, maxPool1d, topKPositions } from "../src/policies/selection-math.js";
import { SNAPKV_KERNEL_SIZE, SNAPKV_MIN_KERNEL_SIZE, SNAPKV_PAPER_VOTED_TOKENS } from "../src/policies/policy-defaults.js";
import { keptWindow, snapKvKernel, snapKvScores } from "../src/policies/snapkv.js";
import { streamingSinks } from "../src/policies/streaming-llm.js";
import { Xoshiro128 } from "../src/xoshiro128.js";

const rng = new Xoshiro128(20240611);
const rand = (): number => rng.nextFloat();
const randInt = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** Random window votes (two query heads per KV head) and accumulated attention for a prompt (peaky, like real attention). */
function randomStats(nLayers: number, nKvHeads: number, promptTokens: number): AttentionStats {
  const rows = (n: number): Float64Array[] =>
    Array.from({ length: n }, () => Float64Array.from({ length: promptTokens }, () => Math.pow(rand(), 6) * (rand() < 0.05 ? 20 : 1)));
  const headVotes = rows(nLayers * nKvHeads * 2);
  const votes = Array.from({ length: nLayers * nKvHeads }, (_, r) =>
    Float64Array.from(headVotes[2 * r], (v, t) => v + headVotes[2 * r + 1][t]),
  );
  return {
    nLayers,
    nKvHeads,
    promptTokens,
    votes,
    headVotes,
    voteRows: 32,
    cumulative: rows(nLayers * nKvHeads),
    cumulativeRows: promptTokens,
  };
}

const isAscendingWithin = (a: Int32Array, n: number): boolean => a.every((p, i) => p >= 0 && p < n && (i === 0 || p > a[i - 1]));

describe("policy specs", () => {
  it('parses method@percent, "none" and blank; names what is wrong', () => {
    expect(parsePolicySpec("snapkv@25")).toEqual({ method: "snapkv", budgetPercent: 25 });
    expect(parsePolicySpec("quest@12.5")).toEqual({ method: "quest", budgetPercent: 12.5 });
    expect(parsePolicySpec("")).toBeNull();
    expect(parsePolicySpec("none")).toBeNull();
    const code = (s: string): string | undefined => {
      try {
        parsePolicySpec(s);
      } catch (e) {
        return e instanceof PolicyError ? e.code : "other";
      }
      return undefined;
    };
    expect(code("snapkv")).toBe("BAD_SPEC");
    expect(code("magic@25")).toBe("UNKNOWN_METHOD");
    expect(code("snapkv@0")).toBe("BAD_BUDGET");
    expect(code("snapkv@101")).toBe("BAD_BUDGET");
    expect(parsePolicySpec("snapkv@50,kernel=1")).toEqual({ method: "snapkv", budgetPercent: 50, kernel: 1 });
    expect(formatPolicySpec(parsePolicySpec("adaptivekv@25.0,kernel=3"))).toBe("adaptivekv@25,kernel=3");
    expect(code("h2o@25,kernel=3")).toBe("BAD_SPEC");
    expect(code("snapkv@25,kernel=4")).toBe("BAD_SPEC");
    expect(budgetTokens({ method: "snapkv", budgetPercent: 25 }, 256)).toBe(64);
    expect(budgetTokens({ method: "snapkv", budgetPercent: 12.5 }, 256)).toBe(32);
    expect(budgetTokens({ method: "snapkv", budgetPercent: 1 }, 10)).toBe(1);
  });
});

describe("selection building blocks", () => {
  it("topKPositions picks the highest scores, ties to the lower position, ascending", () => {
    expect([...topKPositions([1, 5, 5, 0, 7], 0, 5, 3)]).toEqual([1, 2, 4]);
    expect([...topKPositions([9, 1, 1, 1], 1, 4, 2)]).toEqual([1, 2]);
  });

  it("maxPool1d is a centred max over the kernel", () => {
    expect([...maxPool1d([0, 0, 9, 0, 0, 0, 0, 1], 8, 3)]).toEqual([0, 9, 9, 9, 0, 0, 1, 1]);
  });

  it("distributeBudget sums exactly, respects caps, follows weights", () => {
    for (let trial = 0; trial < 300; trial++) {
      const n = randInt(1, 8);
      const weights = Array.from({ length: n }, () => rand() * 10);
      const caps = Array.from({ length: n }, () => randInt(0, 50));
      const total = randInt(0, 250);
      const parts = distributeBudget(weights, total, caps);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(
        Math.min(
          total,
          caps.reduce((a, b) => a + b, 0),
        ),
      );
      parts.forEach((p, i) => {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p, `part ${i}`).toBeLessThanOrEqual(caps[i]);
      });
    }
    expect(distributeBudget([1, 3], 8, [100, 100])).toEqual([2, 6]);
  });
});

describe("budgets per head and layer", () => {
  const methods: PolicySpec["method"][] = ["snapkv", "pyramidkv", "chunkkv", "streamingllm", "h2o", "adaptivekv"];

  it("every head of every layer keeps exactly its layer budget; windows, sinks and recent tokens always kept", () => {
    for (let trial = 0; trial < 30; trial++) {
      const [L, G] = [randInt(1, 6), randInt(1, 4)];
      const n = randInt(2, 300);
      const stats = randomStats(L, G, n);
      for (const method of methods) {
        const spec: PolicySpec = { method, budgetPercent: [100, 50, 25, 12.5, 3][trial % 5] };
        const keep = budgetTokens(spec, n);
        const plan = planSelection(spec, stats);
        expect(plan.layerBudgets.reduce((a, b) => a + b, 0)).toBe(Math.min(L * keep, L * n));
        plan.kept.forEach((kept, row) => {
          const l = Math.floor(row / G);
          expect(kept.length, `${method} L${l}`).toBe(plan.layerBudgets[l]);
          expect(isAscendingWithin(kept, n)).toBe(true);
          const has = (p: number): boolean => kept.includes(p);
          if (method === "streamingllm" || method === "snapkv" || method === "h2o") expect(kept.length).toBe(keep);
          if (method === "streamingllm") for (let p = 0; p < streamingSinks(keep); p++) expect(has(p)).toBe(true);
          const tail =
            method === "h2o"
              ? h2oRecent(keep)
              : method === "streamingllm"
                ? keep - streamingSinks(keep)
                : Math.min(keptWindow(keep), plan.layerBudgets[l]);
          for (let p = n - tail; p < n; p++) expect(has(p), `${method} keeps the window (${p} of ${n})`).toBe(true);
        });
      }
    }
  });

  it("at 100% every method keeps every position", () => {
    const stats = randomStats(3, 2, 77);
    for (const method of methods) {
      const plan = planSelection({ method, budgetPercent: 100 }, stats);
      for (const kept of plan.kept) expect([...kept]).toEqual(Array.from({ length: 77 }, (_, i) => i));
    }
  });

  it("SnapKV keeps the positions with the highest pooled votes", () => {
    const votes = new Float64Array(100);
    votes[10] = 5;
    votes[50] = 4;
    const stats = { ...randomStats(1, 1, 100), headVotes: [votes, votes] };
    // keep 10: window of 5 at the end, then the kernel-7 neighbourhoods of 10 (stronger) and 50
    expect([...planSelection({ method: "snapkv", budgetPercent: 10, kernel: 7 }, stats).kept[0]]).toEqual([
      7, 8, 9, 10, 11, 95, 96, 97, 98, 99,
    ]);
    // the default kernel for 5 voted positions is 3: both neighbourhoods fit
    expect([...planSelection({ method: "snapkv", budgetPercent: 10 }, stats).kept[0]]).toEqual([9, 10, 11, 49, 50, 95, 96, 97, 98, 99]);
  });

  it("SnapKV pools each query head before averaging over the GQA group", () => {
    // per head: [0,10,10,10,0] and [0,0,0,8,8]; pooling the group's sum instead would give [0,5,5,5,4]
    expect([
      ...snapKvScores(
        [
          [0, 0, 10, 0, 0],
          [0, 0, 0, 0, 8],
        ],
        5,
        3,
      ),
    ]).toEqual([0, 5, 5, 9, 4]);
    const votes = [Float64Array.from([0, 0, 10, 0, 0, 0, 0, 0]), Float64Array.from([0, 0, 0, 0, 8, 0, 0, 0])];
    const stats: AttentionStats = {
      nLayers: 1,
      nKvHeads: 1,
      promptTokens: 8,
      votes: null,
      headVotes: votes,
      voteRows: 1,
      cumulative: null,
      cumulativeRows: 0,
    };
    // keep 4: window of 2, then positions 3 (both heads' neighbourhoods) and 1 (ties go low)
    expect([...planSelection({ method: "snapkv", budgetPercent: 50 }, stats).kept[0]]).toEqual([1, 3, 6, 7]);
  });

  it("SnapKV scales the paper's kernel to the voted budget: odd, at least 3, the paper's 7 at its budgets", () => {
    expect(snapKvKernel(32)).toBe(SNAPKV_MIN_KERNEL_SIZE);
    expect(snapKvKernel(96)).toBe(3);
    expect(snapKvKernel(800)).toBe(5);
    expect(snapKvKernel(SNAPKV_PAPER_VOTED_TOKENS)).toBe(SNAPKV_KERNEL_SIZE);
    expect(snapKvKernel(100_000)).toBe(SNAPKV_KERNEL_SIZE);
    for (let voted = 0; voted < 3000; voted += 37) {
      const k = snapKvKernel(voted);
      expect(k % 2, `kernel for ${voted}`).toBe(1);
      if (voted > 0) expect(k).toBeGreaterThanOrEqual(snapKvKernel(voted - 37));
    }
  });

  it("the collector keeps per-query-head window votes that sum to the KV head's", () => {
    const geometry = { nLayers: 2, nHeads: 4, nKvHeads: 2 };
    const collector = new AttentionStatsCollector(geometry, 6, { windowRows: 2, cumulative: false });
    for (let pos = 0; pos < 6; pos++) {
      for (let l = 0; l < 2; l++)
        for (let h = 0; h < 4; h++)
          collector.observe(
            l,
            h,
            pos,
            Float64Array.from({ length: pos + 1 }, (_, t) => (t + 1 + h + 10 * l) / 100),
          );
    }
    const { votes, headVotes, voteRows } = collector.stats;
    expect(voteRows).toBe(2);
    const hv = headVotes as Float64Array[];
    // head 3 of layer 1 (index 7) saw rows 4 and 5: (t + 14) / 100 each, for t <= row
    expect(hv[7][5]).toBeCloseTo(0.19, 12);
    expect(hv[7][0]).toBeCloseTo(0.28, 12);
    (votes as Float64Array[]).forEach((v, row) => v.forEach((x, t) => expect(x).toBeCloseTo(hv[2 * row][t] + hv[2 * row + 1][t], 12)));
  });

  it("PyramidKV budgets form a non-increasing pyramid that sums to the total", () => {
    for (let trial = 0; trial < 200; trial++) {
      const L = randInt(1, 40);
      const n = randInt(2, 4000);
      const keep = randInt(1, n);
      const budgets = pyramidBudgets(L, keep, keptWindow(keep), n);
      expect(budgets.reduce((a, b) => a + b, 0)).toBe(L * keep);
      budgets.forEach((b, l) => {
        expect(b).toBeLessThanOrEqual(n);
        if (l > 0) expect(b).toBeLessThanOrEqual(budgets[l - 1] + 1);
      });
    }
    expect(pyramidBudgets(5, 64, 32, 256)).toEqual([94, 79, 64, 49, 34]);
  });

  it("adaptivekv gives more to a layer whose attention is spread out, and sums to the total", () => {
    const n = 200;
    const sharp = Float64Array.from({ length: n }, (_, t) => (t % 50 === 0 ? 10 : 0.001));
    const broad = Float64Array.from({ length: n }, () => 1);
    const budgets = adaptiveBudgets([sharp, broad], 2, 1, n, 50, 25);
    expect(budgets.reduce((a, b) => a + b, 0)).toBe(100);
    expect(budgets[1]).toBeGreaterThan(budgets[0]);
  });

  it("ChunkKV keeps whole chunks first and exactly the budget", () => {
    const votes = Float64Array.from({ length: 100 }, (_, t) => (t >= 20 && t < 30 ? 1 : 0));
    const kept = selectChunkKvHead(votes, 100, 20, 5, 10);
    expect(kept.length).toBe(20);
    for (let t = 20; t < 30; t++) expect(kept.includes(t)).toBe(true);
  });

  it("H2O evicts the lightest non-recent entry, the oldest on ties", () => {
    expect(h2oVictim([3, 1, 1, 0], 4, 1)).toBe(1);
    expect(h2oVictim([3, 1], 2, 2)).toBe(-1);
  });
});

describe("Quest page bound", () => {
  it("is an upper bound of the true max q.k over the page (property)", () => {
    for (let trial = 0; trial < 2000; trial++) {
      const d = randInt(1, 16);
      const tokens = randInt(1, 32);
      const scale = [0.01, 1, 30][trial % 3];
      const keys = Array.from({ length: tokens }, () =>
        Float32Array.from({ length: d }, () => (rand() - 0.5) * scale * (rand() < 0.1 ? 10 : 1)),
      );
      const q = Float32Array.from({ length: d }, () => (rand() - 0.5) * 4);
      const min = new Float32Array(d).fill(Infinity);
      const max = new Float32Array(d).fill(-Infinity);
      for (const k of keys) for (let i = 0; i < d; i++) [min[i], max[i]] = [Math.min(min[i], k[i]), Math.max(max[i], k[i])];
      let best = -Infinity;
      for (const k of keys)
        best = Math.max(
          best,
          k.reduce((s, x, i) => s + x * q[i], 0),
        );
      const bound = questPageBound(q, 0, min, max, 0, d);
      expect(bound).toBeGreaterThanOrEqual(best - 1e-9 * Math.max(1, Math.abs(best)));
    }
  });

  it("a page holding one key is bounded exactly by that key", () => {
    const k = Float32Array.from([1, -2, 3]);
    const q = Float32Array.from([0.5, 0.5, -1]);
    expect(questPageBound(q, 0, k, k, 0, 3)).toBeCloseTo(0.5 - 1 - 3, 12);
  });

  it("selects the pages with the highest bounds", () => {
    expect([...selectQuestPages([1, 9, 3, 8], 4, 2)]).toEqual([1, 3]);
  });
});

it("knows every method of the brief", () => {
  expect([...POLICY_METHODS].sort()).toEqual(["adaptivekv", "chunkkv", "h2o", "pyramidkv", "quest", "snapkv", "streamingllm"]);
});
