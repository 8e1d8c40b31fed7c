// Placement and what it reads: this replica's load ledger and its peers' shares, session
// affinity, and Placer.place (kv policy) against a plain reference (each worker's own and kvstore
// matches merged, then chooseWorker on object loads); the baseline policies.
import { describe, expect, it } from "vitest";
import { LoadLedger } from "../src/load-ledger.js";
import { mergeMatches, type LocationMatch } from "../src/location-match.js";
import { PEER_SHARE_PERIODS_KEPT, PeerLoads } from "../src/peer-loads.js";
import { Placer, workerLoad, type LoadSources, type PlacementRequest, type PlacerOptions, type PlacerTrick } from "../src/placer.js";
import { Roster, type RosterWorker } from "../src/roster.js";
import { DEFAULT_ROUTING_WEIGHTS, chooseWorker, type RoutingWeights, type WorkerLoad } from "../src/routing-cost.js";
import { seededUniform } from "../src/seeded-uniform.js";
import { SessionTable } from "../src/session-table.js";

const clock = (): { now: () => number; advance: (ms: number) => void } => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
};

/** A worker as a service's record gives it (mutable here, as tests change loads and capacities). */
interface TestWorker extends RosterWorker {
  info: { workerId: string; role: string; kvstoreId: string; capacityBlocks: number };
  load: { queuedPrefillTokens: number; activeDecodeBlocks: number } | undefined;
}

/** Placement options as the old entry point took them (kv policy). */
interface PlacementOptions {
  weights: RoutingWeights;
  localPrefillMaxTokens: number;
  blockSize: number;
}

const PLACER_TRICKS: readonly PlacerTrick[] = ["roster-sets", "load-lookups", "served-by", "load-checks"];

/** One placement through a Placer kept per options (as a router keeps one). */
const placers = new Map<string, Placer>();
function place(
  roster: Roster<TestWorker>,
  matches: Map<string, LocationMatch>,
  promptTokens: number,
  reusableBlocks: number,
  loads: LoadSources,
  opts: PlacementOptions,
  exclude?: Set<string>,
  session?: { decode: string; prefill: string },
): ReturnType<Placer["place"]> {
  const key = JSON.stringify(opts);
  let placer = placers.get(key);
  if (placer === undefined) placers.set(key, (placer = new Placer(opts as PlacerOptions)));
  const req: PlacementRequest<TestWorker> = { roster, matches, promptTokens, reusableBlocks, loads, exclude, session };
  return placer.place(req);
}

/** What a placement decided, in the reference's terms (null: none). */
function shownOf(got: ReturnType<Placer["place"]>): unknown {
  if (got === null) return null;
  return {
    decode: got.decode.info.workerId,
    prefill: got.prefill.info.workerId,
    disaggregated: got.disaggregated,
    bestCachedTokens: got.bestCachedTokens,
    chosenCachedTokens: got.chosenCachedTokens,
  };
}

describe("LoadLedger and PeerLoads", () => {
  it("tracks in-flight work, decays recent work, and forgets silent peers", () => {
    const c = clock();
    const ledger = new LoadLedger(1000, c.now);
    ledger.addPrefill("w1", 300);
    ledger.addDecode("w1", 4);
    c.advance(1000);
    expect(ledger.recentWorkTokens("w1")).toBeCloseTo(300 * Math.exp(-1), 9);
    ledger.addPrefill("w1", -300);
    expect(ledger.prefillTokens("w1")).toBe(0);
    expect(ledger.shares()).toEqual([
      {
        workerId: "w1",
        prefillTokens: 0,
        decodeBlocks: 4,
        recentWorkTokens: expect.closeTo(300 * Math.exp(-1), 6),
        prefillTokensSinceReport: 300,
      },
    ]);

    const peers = new PeerLoads(100, c.now);
    peers.update("r2", [{ workerId: "w1", prefillTokens: 50, decodeBlocks: 1, recentWorkTokens: 10, prefillTokensSinceReport: 20 }]);
    peers.update("r3", [{ workerId: "w1", prefillTokens: 25, decodeBlocks: 2, recentWorkTokens: 5, prefillTokensSinceReport: 5 }]);
    expect(peers.total("w1")).toEqual({ prefillTokens: 75, decodeBlocks: 3, recentWorkTokens: 15, prefillTokensSinceReport: 25 });
    c.advance(PEER_SHARE_PERIODS_KEPT * 100 + 1);
    peers.update("r3", [{ workerId: "w1", prefillTokens: 5, decodeBlocks: 0, recentWorkTokens: 0, prefillTokensSinceReport: 0 }]);
    expect(peers.liveIds()).toEqual(["r3"]);
    expect(peers.total("w1").prefillTokens).toBe(5);
  });
});

describe("LoadLedger's decay", () => {
  it("equals exp(-age / tau) per send over 200 time constants, across rebases and reads behind the last send", () => {
    const r = seededUniform(11);
    const c = clock();
    const tau = 1000;
    const ledger = new LoadLedger(tau, c.now);
    // the plain model: per worker, recent work as of its last send, decayed by Math.exp when read
    const model = new Map<string, { tokens: number; at: number }>();
    const modelAt = (id: string, t: number): number => {
      const e = model.get(id);
      return e === undefined ? 0 : e.tokens * Math.exp(-Math.max(0, t - e.at) / tau);
    };
    const ids = ["w1", "w2", "w3"];
    for (let step = 0; step < 3000; step++) {
      c.advance(Math.floor(r() * r() * 400)); // 200 tau in all: a rebase every 30
      const id = ids[Math.floor(r() * ids.length)];
      if (r() < 0.5) {
        const tokens = 1 + Math.floor(r() * 5000);
        model.set(id, { tokens: modelAt(id, c.now()) + tokens, at: c.now() });
        ledger.noteWork(id, tokens);
      }
      // a placement's clock reading may be a little older than the ledger's last send
      const t = c.now() - (r() < 0.2 ? Math.floor(r() * 50) : 0);
      for (const w of ids) {
        const want = modelAt(w, t);
        const got = ledger.recentWorkTokens(w, t);
        expect(Math.abs(got - want), `step ${step} ${w}`).toBeLessThanOrEqual(1e-9 * Math.max(1, want));
      }
    }
  });
});

describe("LoadLedger's view of a worker's prefill queue", () => {
  it("is the last report drained at the rate two busy reports showed, plus what was sent since; in-flight work before any report", () => {
    const c = clock();
    const ledger = new LoadLedger(60_000, c.now);
    const own = (): ReturnType<LoadLedger["entry"]> => ledger.entry("w");
    ledger.addPrefill("w", 1000);
    expect(ledger.queuedPrefill(own(), c.now())).toBeUndefined(); // no report yet: placement uses the in-flight work
    ledger.noteReport("w", 1000);
    expect(ledger.queuedPrefill(own(), c.now() + 500)).toBe(1000); // no rate known yet
    ledger.addPrefill("w", 400);
    c.advance(1000);
    ledger.noteReport("w", 900); // 1000 + 400 - 900 = 500 drained in 1000 ms
    expect(own()!.drainPerMs).toBeCloseTo(0.5, 9);
    ledger.addPrefill("w", 100);
    expect(ledger.queuedPrefill(own(), c.now() + 400)).toBeCloseTo(900 + 100 - 200, 9);
    expect(ledger.queuedPrefill(own(), c.now() + 10_000)).toBe(0);
    c.advance(1000);
    ledger.noteReport("w", 0); // idle at the end of the interval: the rate is not measured from it
    expect(own()!.drainPerMs).toBeCloseTo(0.5, 9);
    ledger.forget("w");
    expect(ledger.queuedPrefill(ledger.entry("w"), c.now())).toBeUndefined();
  });
});

describe("SessionTable", () => {
  it("is scoped by tenant, expires, and keeps at most its capacity", () => {
    const c = clock();
    const t = new SessionTable(1000, c.now, 2);
    t.set("alpha", "s1", { decode: "d1", prefill: "p1" });
    expect(t.get("beta", "s1")).toBeUndefined();
    expect(t.get("alpha", "s1")).toEqual({ decode: "d1", prefill: "p1" });
    t.set("alpha", "s2", { decode: "d2", prefill: "d2" });
    t.set("alpha", "s3", { decode: "d3", prefill: "d3" });
    expect(t.get("alpha", "s1")).toBeUndefined(); // least recent went first
    c.advance(1000);
    expect(t.get("alpha", "s3")).toBeUndefined();
  });
});

const worker = (workerId: string, role: "prefill" | "decode", kvstoreId = "kv-1"): TestWorker => ({
  info: { workerId, role, kvstoreId, capacityBlocks: 1000 },
  load: undefined,
});
const m = (n: number): LocationMatch => ({ device: n, host: n, ssd: n, best: n, shared: 0 });

describe("place", () => {
  const opts = { weights: DEFAULT_ROUTING_WEIGHTS, localPrefillMaxTokens: 0, blockSize: 4 };
  const ledger = new LoadLedger(60_000);
  const peers = new PeerLoads(1000);
  const loads = { ledger, peers, nowMs: Date.now() };

  it("merges a worker's pool with its node's kvstore and reports available vs captured tokens", () => {
    const ws = [worker("d1", "decode"), worker("d2", "decode", "kv-2"), worker("p1", "prefill", "kv-2")];
    const matches = new Map([
      ["d1", m(2)],
      ["kv-2", m(5)],
    ]);
    const pl = place(new Roster(ws), matches, 40, 9, loads, opts)!;
    expect(pl.decode.info.workerId).toBe("d2"); // 5 blocks through kv-2
    expect(pl.prefill.info.workerId).toBe("p1");
    expect(pl.bestCachedTokens).toBe(20);
    expect(pl.chosenCachedTokens).toBe(20);
  });

  it("lets a peer's in-flight work steer the choice, and a session pull ties its way", () => {
    const ws = [worker("d1", "decode"), worker("d2", "decode")];
    expect(place(new Roster(ws), new Map(), 16, 3, loads, opts)!.decode.info.workerId).toBe("d1");
    peers.update("r2", [{ workerId: "d1", prefillTokens: 0, decodeBlocks: 10, recentWorkTokens: 0, prefillTokensSinceReport: 0 }]);
    expect(place(new Roster(ws), new Map(), 16, 3, loads, opts)!.decode.info.workerId).toBe("d2");
    peers.update("r2", []);
    expect(place(new Roster(ws), new Map(), 16, 3, loads, opts, new Set(), { decode: "d2", prefill: "d2" })!.decode.info.workerId).toBe(
      "d2",
    );
  });

  it("refuses a worker with a bad capacity on every placement over its roster, never placing on a half-built set", () => {
    const bad = worker("d2", "decode");
    (bad.info as { capacityBlocks: number }).capacityBlocks = -1;
    const roster = new Roster([worker("d1", "decode"), bad]);
    for (let k = 0; k < 2; k++)
      expect(() => place(roster, new Map(), 16, 3, loads, opts)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", field: "candidates[1].capacityBlocks" }),
      );
  });
});

describe("place against a reference (each worker's own and kvstore matches merged, then chooseWorker)", () => {
  /** What place must return, computed the plain way: a merged map per worker and chooseWorker on object loads. */
  function referencePlace(
    ws: TestWorker[],
    matches: Map<string, LocationMatch>,
    promptTokens: number,
    reusable: number,
    src: LoadSources,
    opts: PlacementOptions,
    exclude: Set<string>,
    session: { decode: string; prefill: string } | undefined,
  ) {
    const merged = new Map<string, LocationMatch>();
    const live = ws.filter((w) => !exclude.has(w.info.workerId));
    for (const w of live) {
      const own = matches.get(w.info.workerId);
      const store = matches.get(w.info.kvstoreId);
      if (own === undefined && store === undefined) continue;
      const x = mergeMatches(own, store);
      merged.set(w.info.workerId, {
        device: Math.min(x.device, reusable),
        host: Math.min(x.host, reusable),
        ssd: Math.min(x.ssd, reusable),
        best: Math.min(x.best, reusable),
        shared: Math.min(x.shared, reusable),
      });
    }
    const bestCachedTokens = Math.max(0, ...[...merged.values()].map((x) => x.best)) * opts.blockSize;
    const loadsOf = (role: string): WorkerLoad[] => live.filter((w) => w.info.role === role).map((w) => workerLoad(w, src));
    const d = chooseWorker(loadsOf("decode"), merged, promptTokens, opts.blockSize, opts.weights, { sessionWorkerId: session?.decode });
    if (d === null) return null;
    const decodeCached = (merged.get(d.workerId)?.best ?? 0) * opts.blockSize;
    const prefills = loadsOf("prefill");
    const p =
      prefills.length > 0 && promptTokens - decodeCached > opts.localPrefillMaxTokens
        ? chooseWorker(prefills, merged, promptTokens, opts.blockSize, opts.weights, { sessionWorkerId: session?.prefill })
        : null;
    return {
      decode: d.workerId,
      prefill: p?.workerId ?? d.workerId,
      disaggregated: p !== null,
      bestCachedTokens,
      chosenCachedTokens: p === null ? decodeCached : (merged.get(p.workerId)?.best ?? 0) * opts.blockSize,
    };
  }

  it("agrees on 2000 random pools, matches, loads, exclusions and sessions", () => {
    const rng = seededUniform(7);
    const int = (n: number): number => Math.floor(rng() * n);
    let disaggregated = 0;
    for (let round = 0; round < 2000; round++) {
      const c = clock();
      const ledger = new LoadLedger(1000, c.now);
      const peers = new PeerLoads(1000, c.now);
      const nodes = 1 + int(4);
      const ws = Array.from({ length: 1 + int(12) }, (_, k) => {
        const w = worker(`w${k}`, rng() < 0.5 ? "decode" : "prefill", `kv-${int(nodes)}`);
        w.info.capacityBlocks = 20 + int(200);
        if (rng() < 0.5) w.load = { queuedPrefillTokens: int(3000), activeDecodeBlocks: int(50) };
        if (rng() < 0.5) ledger.addPrefill(w.info.workerId, int(2000));
        if (rng() < 0.3) ledger.addDecode(w.info.workerId, int(40));
        if (rng() < 0.5) ledger.noteWork(w.info.workerId, int(4000));
        if (rng() < 0.3) ledger.noteReport(w.info.workerId, int(3000));
        return w;
      });
      peers.update(
        "peer",
        ws
          .filter(() => rng() < 0.3)
          .map((w) => ({
            workerId: w.info.workerId,
            prefillTokens: int(1000),
            decodeBlocks: int(20),
            recentWorkTokens: int(3000),
            prefillTokensSinceReport: int(500),
          })),
      );
      c.advance(int(500));
      const matches = new Map<string, LocationMatch>();
      for (const loc of [...ws.map((w) => w.info.workerId), ...Array.from({ length: nodes }, (_, k) => `kv-${k}`), "elsewhere"]) {
        if (rng() < 0.4) continue;
        const device = int(30);
        const host = device + int(10);
        const ssd = host + int(10);
        matches.set(loc, { device, host, ssd, best: ssd, shared: int(ssd + 1) });
      }
      const exclude = new Set(ws.filter(() => rng() < 0.15).map((w) => w.info.workerId));
      const session = rng() < 0.3 ? { decode: `w${int(12)}`, prefill: `w${int(12)}` } : undefined;
      const promptTokens = int(800);
      const reusable = int(Math.floor(promptTokens / 4) + 1); // at most the prompt's full blocks, as reusableBlocks gives
      const opts: PlacementOptions = {
        weights: { ...DEFAULT_ROUTING_WEIGHTS, overloadPenalty: rng() < 0.5 ? 0 : 4096 },
        localPrefillMaxTokens: int(300),
        blockSize: 4,
      };
      const src = { ledger, peers, nowMs: c.now() };
      const want = referencePlace(ws, matches, promptTokens, reusable, src, opts, exclude, session);
      const got = place(new Roster(ws), matches, promptTokens, reusable, src, opts, exclude, session);
      const shown = shownOf(got);
      expect(shown, `round ${round}`).toEqual(want);
      // each trick's plain form (PlacerOptions.plainForms, for A/B figures) places the same
      for (const trick of PLACER_TRICKS) {
        const plain = new Placer({ ...opts, plainForms: [trick] }).place({
          roster: new Roster(ws),
          matches,
          promptTokens,
          reusableBlocks: reusable,
          loads: src,
          exclude,
          session,
        });
        expect(
          plain === null
            ? null
            : {
                decode: plain.decode.info.workerId,
                prefill: plain.prefill.info.workerId,
                disaggregated: plain.disaggregated,
                bestCachedTokens: plain.bestCachedTokens,
                chosenCachedTokens: plain.chosenCachedTokens,
              },
          `round ${round}, ${trick} plain`,
        ).toEqual(want);
      }
      if (got?.disaggregated) disaggregated++;
    }
    // both branches were exercised
    expect(disaggregated).toBeGreaterThan(100);
    expect(disaggregated).toBeLessThan(1900);
  });

  it("agrees over 3000 placements on one roster, ledger, peers and exclusions changing between them (what placement keeps stays true)", () => {
    const rng = seededUniform(9);
    const int = (n: number): number => Math.floor(rng() * n);
    const c = clock();
    const ledger = new LoadLedger(1000, c.now);
    const peers = new PeerLoads(1000, c.now);
    const ws = Array.from({ length: 10 }, (_, k) => worker(`w${k}`, k % 2 === 0 ? "decode" : "prefill", `kv-${k % 3}`));
    let roster = new Roster(ws);
    const opts: PlacementOptions = { weights: DEFAULT_ROUTING_WEIGHTS, localPrefillMaxTokens: 64, blockSize: 4 };
    const kinds = new Map<string, number>();
    for (let step = 0; step < 3000; step++) {
      const id = `w${int(10)}`;
      const r = rng();
      // each change placement must see: in-flight work added and released (entries created and
      // dropped), entries forgotten, peers' shares replaced and expiring, a new roster
      const kind =
        r < 0.3
          ? "add"
          : r < 0.5
            ? "release"
            : r < 0.55
              ? "shares"
              : r < 0.6
                ? "forget"
                : r < 0.7
                  ? "peer"
                  : r < 0.75
                    ? "expire"
                    : r < 0.78
                      ? "roster"
                      : "none";
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      if (kind === "add") {
        ledger.addPrefill(id, 1 + int(3000));
        if (rng() < 0.5) ledger.addDecode(id, 1 + int(30));
      } else if (kind === "release") {
        ledger.addPrefill(id, -int(4000));
        ledger.addDecode(id, -int(40));
      } else if (kind === "shares") {
        c.advance(int(20_000)); // recent work decays below one token: idle entries go
        ledger.shares();
      } else if (kind === "forget") ledger.forget(id);
      else if (kind === "peer")
        peers.update(
          `r${int(2)}`,
          ws
            .filter(() => rng() < 0.5)
            .map((w) => ({
              workerId: w.info.workerId,
              prefillTokens: int(3000),
              decodeBlocks: int(30),
              recentWorkTokens: int(5000),
              prefillTokensSinceReport: int(1000),
            })),
        );
      else if (kind === "expire") c.advance(PEER_SHARE_PERIODS_KEPT * 1000 + int(100));
      else if (kind === "roster") roster = new Roster(ws);
      c.advance(int(50));
      const matches = new Map<string, LocationMatch>(
        rng() < 0.5
          ? [
              [`w${int(10)}`, m(int(20))],
              [`kv-${int(3)}`, m(int(20))],
            ]
          : [],
      );
      const src = { ledger, peers, nowMs: c.now() };
      const promptTokens = 4 + int(400);
      const reusable = Math.floor(promptTokens / 4);
      // some placements exclude workers (a retry) or name a session: the candidate sets kept for
      // the roster must not leak into or out of them
      const exclude = rng() < 0.2 ? new Set(ws.filter(() => rng() < 0.3).map((w) => w.info.workerId)) : new Set<string>();
      const session = rng() < 0.2 ? { decode: `w${int(10)}`, prefill: `w${int(10)}` } : undefined;
      // placement first: the reference's own lookups would bring the peers' sums up to date for it
      const got = place(roster, matches, promptTokens, reusable, src, opts, exclude, session);
      const want = referencePlace(ws, matches, promptTokens, reusable, src, opts, exclude, session);
      const shown = shownOf(got);
      expect(shown, `step ${step} after ${kind}`).toEqual(want);
    }
    for (const k of ["add", "release", "shares", "forget", "peer", "expire", "roster"]) expect(kinds.get(k), k).toBeGreaterThan(50);
  });
});

describe("the baseline policies", () => {
  const ledger = new LoadLedger(60_000);
  const peers = new PeerLoads(1000);
  const ws = [worker("d1", "decode"), worker("d2", "decode"), worker("d3", "decode")];
  const roster = new Roster(ws);
  const req = (matches = new Map<string, LocationMatch>()): PlacementRequest<TestWorker> => ({
    roster,
    matches,
    promptTokens: 64,
    reusableBlocks: 15,
    loads: { ledger, peers, nowMs: 0 },
  });
  const decodeOf = (placer: Placer, r = req()): string => placer.place(r)!.decode.info.workerId;

  it("round-robin takes each candidate in turn, whatever is cached", () => {
    const placer = new Placer({ policy: "round-robin", localPrefillMaxTokens: 0, blockSize: 4 });
    const cached = req(new Map([["d3", m(15)]]));
    expect([0, 1, 2, 3].map(() => decodeOf(placer, cached))).toEqual(["d1", "d2", "d3", "d1"]);
  });

  it("random is seeded: the same seed gives the same choices, and every candidate comes up", () => {
    const a = new Placer({ policy: "random", localPrefillMaxTokens: 0, blockSize: 4, seed: 5 });
    const b = new Placer({ policy: "random", localPrefillMaxTokens: 0, blockSize: 4, seed: 5 });
    const seqA = Array.from({ length: 60 }, () => decodeOf(a));
    expect(Array.from({ length: 60 }, () => decodeOf(b))).toEqual(seqA);
    expect(new Set(seqA)).toEqual(new Set(["d1", "d2", "d3"]));
  });

  it("least-loaded ignores the cache and takes the least queued; kv takes the cache", () => {
    ws[0].load = { queuedPrefillTokens: 100, activeDecodeBlocks: 0 };
    ws[1].load = { queuedPrefillTokens: 0, activeDecodeBlocks: 0 };
    ws[2].load = { queuedPrefillTokens: 50, activeDecodeBlocks: 0 };
    const cached = req(new Map([["d1", m(15)]]));
    expect(decodeOf(new Placer({ policy: "least-loaded", localPrefillMaxTokens: 0, blockSize: 4 }), cached)).toBe("d2");
    expect(decodeOf(new Placer({ policy: "kv", localPrefillMaxTokens: 0, blockSize: 4 }), cached)).toBe("d1");
    for (const w of ws) w.load = undefined;
  });

  it("refuses an unknown policy, naming it", () => {
    expect(() => new Placer({ policy: "nearest" as never, localPrefillMaxTokens: 0, blockSize: 4 })).toThrow(
      /policy: expected one of kv, round-robin, random, least-loaded, got nearest/,
    );
  });
});
