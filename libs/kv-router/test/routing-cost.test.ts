import { describe, expect, it } from "vitest";
import { PrefixIndexError } from "../src/errors.js";
import { blocksByFastestTier, emptyMatch, mergeMatches, type LocationMatch } from "../src/location-match.js";
import { CandidateSet } from "../src/candidate-set.js";
import {
  DEFAULT_LOCAL_PREFILL_MAX_TOKENS,
  chooseCandidate,
  DEFAULT_ROUTING_WEIGHTS,
  chooseWorker,
  scoreWorker,
  shouldDisaggregate,
  type RoutingWeights,
  type WorkerLoad,
} from "../src/routing-cost.js";
import { mulberry32 } from "./support/prng.js";

const BS = 4;
const idle = (workerId: string, role: WorkerLoad["role"] = "prefill"): WorkerLoad => ({
  workerId,
  role,
  queuedPrefillTokens: 0,
  activeDecodeBlocks: 0,
  capacityBlocks: 1000,
});
/** A match; `shared` (the part a hot prefix many chains continue) defaults to all of it. */
const m = (device: number, host: number, ssd: number, shared = ssd): LocationMatch => ({ device, host, ssd, best: ssd, shared });
const greedy: RoutingWeights = { ...DEFAULT_ROUTING_WEIGHTS, temperature: 0 };

describe("chooseWorker (temperature 0)", () => {
  it("returns null without candidates", () => {
    expect(chooseWorker([], new Map(), 32, BS, greedy)).toBeNull();
  });

  it("computes score = tier-weighted cached tokens - weighted load", () => {
    const w: WorkerLoad = { ...idle("w1"), queuedPrefillTokens: 10, activeDecodeBlocks: 3 };
    const choice = chooseWorker([w], new Map([["w1", m(2, 3, 5)]]), 24, BS, greedy)!;
    // cached: 2 device + 1 host + 2 ssd blocks of 4 tokens; load: 10 queued + 3 blocks × 4 resident.
    expect(choice.score).toBeCloseTo(4 * (2 * 1.0 + 1 * 0.6 + 2 * 0.3) - 0.25 * (10 + 12), 10);
    expect(choice.cachedTokens).toBe(20);
  });

  it("prefers device over host over ssd for the same number of blocks", () => {
    const workers = [idle("a-ssd"), idle("b-host"), idle("c-device")];
    const matches = new Map([
      ["a-ssd", m(0, 0, 4)],
      ["b-host", m(0, 4, 4)],
      ["c-device", m(4, 4, 4)],
    ]);
    expect(chooseWorker(workers, matches, 20, BS, greedy)!.workerId).toBe("c-device");
    matches.delete("c-device");
    expect(chooseWorker(workers, matches, 20, BS, greedy)!.workerId).toBe("b-host");
  });

  it("lets load outweigh a cached prefix", () => {
    const busy = { ...idle("busy"), queuedPrefillTokens: 100 };
    const matches = new Map([["busy", m(4, 4, 4)]]); // 16 tokens saved < 0.25 × 100 queued
    expect(chooseWorker([busy, idle("free")], matches, 20, BS, greedy)!.workerId).toBe("free");
    const lightlyBusy = { ...busy, queuedPrefillTokens: 40 }; // 16 > 0.25 × 40
    expect(chooseWorker([lightlyBusy, idle("free")], matches, 20, BS, greedy)!.workerId).toBe("busy");
  });

  it("breaks ties by the smallest workerId whatever the candidate order", () => {
    const ids = ["w3", "w1", "w2"];
    expect(
      chooseWorker(
        ids.map((id) => idle(id)),
        new Map(),
        16,
        BS,
        greedy,
      )!.workerId,
    ).toBe("w1");
    expect(
      chooseWorker(
        [...ids].reverse().map((id) => idle(id)),
        new Map(),
        16,
        BS,
        greedy,
      )!.workerId,
    ).toBe("w1");
  });

  it("breaks ties by the least recent prefill work before the id", () => {
    const a = { ...idle("a"), recentWorkTokens: 500 };
    const b = { ...idle("b"), recentWorkTokens: 100 };
    const c = { ...idle("c"), recentWorkTokens: 100 };
    expect(chooseWorker([a, b, c], new Map(), 16, BS, greedy)!.workerId).toBe("b");
    expect(chooseWorker([c, a, b], new Map(), 16, BS, greedy)!.workerId).toBe("b");
    // without the bounded-load terms, recent work never outweighs a score difference
    expect(chooseWorker([a, b], new Map([["a", m(1, 1, 1)]]), 16, BS, { ...greedy, overload: 0, overloadPenalty: 0 })!.workerId).toBe("a");
  });

  describe("bounded load", () => {
    // the marginal term alone (the overload penalty has its own tests below)
    const marginal: RoutingWeights = { ...greedy, overloadPenalty: 0 };
    // 4 workers; "hot" holds an 8-block (32-token) prefix and was sent 3000 tokens of recent work,
    // the others 1000 each: the mean is 1500 (+ this request's share), the bound 1.3 × that (the default slack).
    const pool = (): WorkerLoad[] => [
      { ...idle("hot"), recentWorkTokens: 3000 },
      { ...idle("x"), recentWorkTokens: 1000 },
      { ...idle("y"), recentWorkTokens: 1000 },
      { ...idle("z"), recentWorkTokens: 1000 },
    ];

    it("sends a new prompt sharing only a short hot prefix to a worker under the bound", () => {
      const matches = new Map([["hot", m(8, 8, 8)]]);
      // 400-token prompt: 368 uncached on hot (over the bound, all charged), 400 on x (under it, nothing charged)
      expect(chooseWorker(pool(), matches, 400, BS, marginal)!.workerId).toBe("x");
      // the previous cost (no bounded-load term) piles it onto the prefix's holder
      expect(chooseWorker(pool(), matches, 400, BS, { ...marginal, overload: 0 })!.workerId).toBe("hot");
    });

    it("keeps a continuation whose long prefix is cached on its holder, even above the bound", () => {
      const matches = new Map([["hot", m(90, 90, 90)]]);
      // 400-token prompt, 360 cached on hot: 40 uncached tokens cost 40, saving 360
      const choice = chooseWorker(pool(), matches, 400, BS, marginal)!;
      expect(choice.workerId).toBe("hot");
      expect(choice.score).toBeCloseTo(360 - 40, 10);
    });

    it("charges only the part of the new work above the bound", () => {
      const a: WorkerLoad = { ...idle("a"), recentWorkTokens: 900 };
      const b: WorkerLoad = { ...idle("b"), recentWorkTokens: 1100 };
      const c: WorkerLoad = { ...idle("c"), recentWorkTokens: 1000 };
      const w = { ...marginal, overload: 2, overloadSlack: 0 };
      // 200 uncached tokens over 3 workers with 3000 tokens of recent work: bound = 3200 / 3 ≈ 1067
      expect(scoreWorker(a, undefined, 200, BS, w, undefined, 3000, 3)!.score).toBeCloseTo(-2 * (1100 - 3200 / 3), 9); // crosses it by 33
      expect(scoreWorker(b, undefined, 200, BS, w, undefined, 3000, 3)!.score).toBeCloseTo(-2 * 200, 9); // already above it
      expect(scoreWorker(c, undefined, 50, BS, w, undefined, 3000, 3)!.score).toBeCloseTo(-2 * (1050 - 3050 / 3), 9); // crosses it by 33
      expect(scoreWorker(a, undefined, 50, BS, w, undefined, 3000, 3)!.score).toBe(0); // 950 stays under 3050 / 3
      // alone, a worker is its own pool: the bound includes the request, nothing is charged
      expect(scoreWorker(b, undefined, 200, BS, w)!.score).toBe(0);
    });
  });

  describe("overload penalty", () => {
    // "hot" holds a prefix and was sent 3000 tokens of recent work, the others 1000 each
    const pool = (): WorkerLoad[] => [
      { ...idle("hot"), recentWorkTokens: 3000 },
      { ...idle("x"), recentWorkTokens: 1000 },
      { ...idle("y"), recentWorkTokens: 1000 },
      { ...idle("z"), recentWorkTokens: 1000 },
    ];
    const w: RoutingWeights = { ...greedy, overloadPenalty: 1024, overloadPenaltySlack: 0.05 };

    it("moves a new session off a hot prefix's overloaded holder, which the marginal term alone cannot", () => {
      // 100-token prompt, 80 cached on hot: 20 uncached; the marginal term charges hot only those 20
      const matches = new Map([["hot", m(20, 20, 20)]]);
      expect(chooseWorker(pool(), matches, 100, BS, { ...w, overloadPenalty: 0 })!.workerId).toBe("hot");
      // hot is (3000 - b) / b ≈ 90% above its penalty bound b: 1024 × 0.9 > 80, its cache is worth nothing
      const choice = chooseWorker(pool(), matches, 100, BS, w)!;
      expect(choice.workerId).toBe("x");
      expect(scoreWorker(pool()[0], matches.get("hot"), 100, BS, w, undefined, 6000, 4)!.score).toBeCloseTo(-20, 9);
    });

    it("keeps a continuation whose cached context is worth more than the penalty", () => {
      const matches = new Map([["hot", m(495, 495, 495)]]);
      const b = (1.05 * (6000 + 20)) / 4;
      const choice = chooseWorker(pool(), matches, 2000, BS, w)!;
      expect(choice.workerId).toBe("hot");
      expect(choice.score).toBeCloseTo(1980 - (1024 * (3000 - b)) / b - 20, 9);
    });

    it("takes only the shared part's value: a continuation keeps its own context", () => {
      // 600-token prompt, 125 blocks (500 tokens) cached on hot, of which the first 20 blocks are
      // a prefix other chains continue; hot is ~87% above its penalty bound b, a penalty of ~895
      const b = (1.05 * (6000 + 100)) / 4;
      expect((1024 * (3000 - b)) / b).toBeGreaterThan(500);
      // the penalty takes the 80 shared tokens only: 500 - 80 - 100 (marginal term) beats an idle worker's 0
      const choice = chooseWorker(pool(), new Map([["hot", m(125, 125, 125, 20)]]), 600, BS, w)!;
      expect(choice.workerId).toBe("hot");
      expect(choice.score).toBeCloseTo(500 - 80 - 100, 9);
      // the same cache all shared loses its whole value, and the request moves
      expect(chooseWorker(pool(), new Map([["hot", m(125, 125, 125)]]), 600, BS, w)!.workerId).toBe("x");
      // nothing shared: no penalty at all
      expect(chooseWorker(pool(), new Map([["hot", m(125, 125, 125, 0)]]), 600, BS, w)!.score).toBeCloseTo(500 - 100, 9);
      // a shared part in a slower tier is worth what that tier is worth: 20 shared blocks, 10 of them on host
      expect(chooseWorker(pool(), new Map([["hot", m(10, 125, 125, 20)]]), 600, BS, w)!.score).toBeCloseTo(
        40 + 0.6 * 460 - (40 + 0.6 * 40) - 100,
        9,
      );
    });

    it("charges nothing at or under the bound, in proportion to the excess above it", () => {
      const matches = new Map([["a", m(100, 100, 100)]]);
      const a = { ...idle("a"), recentWorkTokens: 1000 };
      // pool of 2 with 2000 tokens of recent work and 0 uncached: bound = 1.05 × 1000, a is under it
      expect(scoreWorker(a, matches.get("a"), 400, BS, w, undefined, 2000, 2)!.score).toBe(400);
      // 0 slack: a sits exactly at the bound
      expect(scoreWorker(a, matches.get("a"), 400, BS, { ...w, overloadPenaltySlack: 0 }, undefined, 2000, 2)!.score).toBe(400);
      // pool of 2 with 1500: bound 787.5, a is 27% above it
      expect(scoreWorker(a, matches.get("a"), 400, BS, w, undefined, 1500, 2)!.score).toBeCloseTo(400 - (1024 * (1000 - 787.5)) / 787.5, 9);
    });
  });

  it("adds the session affinity bonus to the session's last worker only", () => {
    const workers = [idle("w1"), idle("w2")];
    // bounded load off: in an idle pool it would add to the cached side (every uncached token is above the mean)
    const w = { ...greedy, sessionAffinity: 10, overload: 0, overloadPenalty: 0 };
    expect(chooseWorker(workers, new Map(), 16, BS, w, { sessionWorkerId: "w2" })!.workerId).toBe("w2");
    expect(chooseWorker(workers, new Map(), 16, BS, w, { sessionWorkerId: "gone" })!.workerId).toBe("w1");
    // 2 cached blocks (8 tokens) on w1 lose to the 10-token bonus on w2, 3 blocks (12 tokens) win
    expect(chooseWorker(workers, new Map([["w1", m(2, 2, 2)]]), 16, BS, w, { sessionWorkerId: "w2" })!.workerId).toBe("w2");
    expect(chooseWorker(workers, new Map([["w1", m(3, 3, 3)]]), 16, BS, w, { sessionWorkerId: "w2" })!.workerId).toBe("w1");
    expect(chooseWorker(workers, new Map(), 16, BS, { ...w, sessionAffinity: 0 }, { sessionWorkerId: "w2" })!.workerId).toBe("w1");
  });

  it("caps a match at the prompt's full blocks", () => {
    const choice = chooseWorker([idle("w1")], new Map([["w1", m(10, 10, 10)]]), 9, BS, greedy)!;
    expect(choice.cachedTokens).toBe(8);
    expect(choice.score).toBeCloseTo(8, 10);
  });

  it("skips decode workers without room for the prompt, and returns null if none has room", () => {
    const full: WorkerLoad = { ...idle("full", "decode"), activeDecodeBlocks: 98, capacityBlocks: 100 };
    const roomy: WorkerLoad = { ...idle("roomy", "decode"), activeDecodeBlocks: 0, capacityBlocks: 100 };
    const matches = new Map([["full", m(3, 3, 3)]]);
    expect(chooseWorker([full, roomy], matches, 12, BS, greedy)!.workerId).toBe("roomy"); // needs 3 blocks, full has 2
    expect(chooseWorker([full], matches, 12, BS, greedy)).toBeNull();
    expect(chooseWorker([full], matches, 8, BS, greedy)!.workerId).toBe("full"); // 2 blocks fit
  });
});

describe("chooseWorker (temperature > 0)", () => {
  const workers = [idle("best"), idle("worst")];
  const matches = new Map([["best", m(4, 4, 4)]]);

  it("is reproducible with the same rng seed", () => {
    const w = { ...DEFAULT_ROUTING_WEIGHTS, temperature: 0.5 };
    const run = (seed: number): string[] => {
      const rng = mulberry32(seed);
      return Array.from({ length: 50 }, () => chooseWorker(workers, matches, 16, BS, w, { rng })!.workerId);
    };
    expect(run(7)).toEqual(run(7));
  });

  it("samples the best e times as often as the worst at temperature 1", () => {
    const rng = mulberry32(123);
    const w = { ...DEFAULT_ROUTING_WEIGHTS, temperature: 1 };
    let best = 0;
    const draws = 20_000;
    for (let i = 0; i < draws; i++) if (chooseWorker(workers, matches, 16, BS, w, { rng })!.workerId === "best") best++;
    expect(best / draws).toBeGreaterThan(Math.E / (1 + Math.E) - 0.02);
    expect(best / draws).toBeLessThan(Math.E / (1 + Math.E) + 0.02);
  });

  it("maps the rng's range onto candidates sorted by id", () => {
    const w = { ...DEFAULT_ROUTING_WEIGHTS, temperature: 1 };
    expect(chooseWorker(workers, matches, 16, BS, w, { rng: () => 0 })!.workerId).toBe("best");
    expect(chooseWorker(workers, matches, 16, BS, w, { rng: () => 0.999999 })!.workerId).toBe("worst");
  });

  it("is uniform when all scores are equal", () => {
    const rng = mulberry32(5);
    const w = { ...DEFAULT_ROUTING_WEIGHTS, temperature: 0.1 };
    const counts = new Map<string, number>();
    const four = ["a", "b", "c", "d"].map((id) => idle(id));
    for (let i = 0; i < 8000; i++) {
      const id = chooseWorker(four, new Map(), 16, BS, w, { rng })!.workerId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of ["a", "b", "c", "d"]) expect(Math.abs(counts.get(id)! / 8000 - 0.25)).toBeLessThan(0.03);
  });
});

describe("chooseWorker input checks", () => {
  const codeAndField = (fn: () => unknown): [string, string] | undefined => {
    try {
      fn();
    } catch (e) {
      if (e instanceof PrefixIndexError) return [e.code, e.field];
      throw e;
    }
    return undefined;
  };

  it("names the bad field", () => {
    expect(codeAndField(() => chooseWorker([idle("a"), idle("a")], new Map(), 16, BS, greedy))).toEqual([
      "INVALID_ARGUMENT",
      "candidates[1].workerId",
    ]);
    expect(codeAndField(() => chooseWorker([{ ...idle("a"), queuedPrefillTokens: -1 }], new Map(), 16, BS, greedy))).toEqual([
      "INVALID_ARGUMENT",
      "candidates[0].queuedPrefillTokens",
    ]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), 16, 0, greedy))).toEqual(["INVALID_ARGUMENT", "blockSize"]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), -1, BS, greedy))).toEqual(["INVALID_ARGUMENT", "promptTokens"]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), 16, BS, { ...greedy, host: Number.NaN }))).toEqual([
      "INVALID_ARGUMENT",
      "weights.host",
    ]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), 16, BS, { ...greedy, sessionAffinity: -1 }))).toEqual([
      "INVALID_ARGUMENT",
      "weights.sessionAffinity",
    ]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), 16, BS, { ...greedy, overloadSlack: -0.1 }))).toEqual([
      "INVALID_ARGUMENT",
      "weights.overloadSlack",
    ]);
    expect(codeAndField(() => chooseWorker([idle("a")], new Map(), 16, BS, { ...greedy, overloadPenalty: -1 }))).toEqual([
      "INVALID_ARGUMENT",
      "weights.overloadPenalty",
    ]);
    expect(codeAndField(() => chooseWorker([{ ...idle("a"), recentWorkTokens: Infinity }], new Map(), 16, BS, greedy))).toEqual([
      "INVALID_ARGUMENT",
      "candidates[0].recentWorkTokens",
    ]);
  });
});

describe("CandidateSet.again / setLoad", () => {
  it("chooses among the same candidates with new loads as a set built afresh would", () => {
    const rng = mulberry32(21);
    const kept = new CandidateSet();
    const roles = Array.from({ length: 12 }, (_, k): WorkerLoad["role"] => (k % 3 === 0 ? "prefill" : "decode"));
    roles.forEach((role, k) => kept.add(`w${k}`, role, 0, 0, 50 + k, 0));
    for (let round = 0; round < 200; round++) {
      const loads = roles.map(() => [Math.floor(rng() * 4000), Math.floor(rng() * 40), Math.floor(rng() * 9000)]);
      const matches = roles.map(() => (rng() < 0.4 ? Math.floor(rng() * 30) : 0));
      const fresh = new CandidateSet();
      roles.forEach((role, k) => fresh.add(`w${k}`, role, loads[k][0], loads[k][1], 50 + k, loads[k][2]));
      kept.again();
      roles.forEach((_, k) => kept.setLoad(k, loads[k][0], loads[k][1], loads[k][2]));
      for (const set of [fresh, kept]) matches.forEach((b, k) => b > 0 && set.mergeMatch(k, b, b, b, b, 0));
      expect(kept.poolRecentWorkTokens, `round ${round}`).toBe(fresh.poolRecentWorkTokens);
      expect(kept.bestMatch(), `round ${round}`).toBe(fresh.bestMatch());
      expect(chooseCandidate(kept, 64, BS, greedy), `round ${round}`).toBe(chooseCandidate(fresh, 64, BS, greedy));
    }
  });

  it("refuses a bad load, naming the candidate's field", () => {
    const set = new CandidateSet();
    set.add("a", "decode", 0, 0, 10, 0);
    set.add("b", "decode", 0, 0, 10, 0);
    set.again();
    expect(() => set.setLoad(1, Number.NaN, 0, 0)).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", field: "candidates[1].queuedPrefillTokens" }),
    );
    expect(() => set.setLoad(0, 0, 0, -1)).toThrow(expect.objectContaining({ field: "candidates[0].recentWorkTokens" }));
  });
});

describe("mergeMatches", () => {
  it("treats a missing side as no match", () => {
    expect(mergeMatches(undefined, undefined)).toEqual(emptyMatch());
    expect(mergeMatches(m(2, 2, 2), undefined)).toEqual(m(2, 2, 2));
    expect(mergeMatches(undefined, m(0, 3, 6))).toEqual(m(0, 3, 6));
  });

  it("takes the longer leading run per tier", () => {
    // Worker pool holds 2 blocks; its kvstore holds 5 in host and 8 in host-or-ssd.
    expect(mergeMatches(m(2, 2, 2), m(0, 5, 8))).toEqual(m(2, 5, 8));
    // A worker holding more than its store: device-run also counts as host-run.
    expect(mergeMatches(m(6, 6, 6), m(0, 5, 8))).toEqual(m(6, 6, 8));
  });

  it("splits into non-overlapping per-tier counts", () => {
    expect(blocksByFastestTier(m(2, 5, 8))).toEqual({ device: 2, host: 3, ssd: 3 });
  });
});

describe("shouldDisaggregate", () => {
  it("keeps short uncached prefills on the decode worker", () => {
    expect(shouldDisaggregate(0, 256)).toBe(false);
    expect(shouldDisaggregate(256, 256)).toBe(false);
    expect(shouldDisaggregate(257, 256)).toBe(true);
    expect(shouldDisaggregate(DEFAULT_LOCAL_PREFILL_MAX_TOKENS + 1)).toBe(true);
  });

  it("refuses negative inputs", () => {
    expect(() => shouldDisaggregate(-1, 10)).toThrow(PrefixIndexError);
    expect(() => shouldDisaggregate(1, -10)).toThrow(PrefixIndexError);
  });
});
