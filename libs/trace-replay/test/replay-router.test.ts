// The replay places as the router service does: over random request streams, ReplayRouter (the
// replay's adapter) and the service's composition of the same library pieces (a Placer, this
// replica's LoadLedger fed by RequestCharge as the request runner feeds it, load reports noted as
// the router's main does) make the same choice every time, for every policy. Matches stay within
// production's reusable blocks, where the replay's block rule and the router's agree.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ROUTING_WEIGHTS,
  LoadLedger,
  PeerLoads,
  Placer,
  ROUTING_POLICIES,
  RequestCharge,
  Roster,
  reusableBlocks,
  seededUniform,
  type LocationMatch,
  type RosterWorker,
} from "@kvtier/kv-router";
import { ReplayRouter, SIMULATED_DECODE_ID } from "../src/replay-router.js";

const BLOCK = 512;
const TAU_MS = 60_000;
const REPORT_MS = 1_000;

interface ServiceWorker extends RosterWorker {
  info: { workerId: string; role: string; kvstoreId: string; capacityBlocks: number };
  load: { queuedPrefillTokens: number; activeDecodeBlocks: number } | undefined;
}

describe("ReplayRouter against the router service's placement", () => {
  for (const policy of ROUTING_POLICIES) {
    it(`makes the router's choice for every request (${policy})`, () => {
      const rng = seededUniform(policy.length * 7 + 1);
      const int = (n: number): number => Math.floor(rng() * n);
      for (let run = 0; run < 20; run++) {
        const n = 2 + int(7);
        const ids = Array.from({ length: n }, (_, w) => `p${w}`);
        const replay = new ReplayRouter(ids, 1000, {
          policy,
          weights: DEFAULT_ROUTING_WEIGHTS,
          recentWorkTauMs: TAU_MS,
          blockSize: BLOCK,
          seed: run + 1,
        });
        // the service's side: worker records, a Placer, a ledger on the same clock
        let nowMs = 0;
        const ledger = new LoadLedger(TAU_MS, () => nowMs);
        const peers = new PeerLoads(REPORT_MS, () => nowMs);
        const workers: ServiceWorker[] = [
          ...ids.map((id) => ({ info: { workerId: id, role: "prefill", kvstoreId: "", capacityBlocks: 1000 }, load: undefined })),
          {
            info: { workerId: SIMULATED_DECODE_ID, role: "decode", kvstoreId: "", capacityBlocks: Number.MAX_SAFE_INTEGER },
            load: undefined,
          },
        ];
        const roster = new Roster(workers);
        const placer = new Placer({ policy, weights: DEFAULT_ROUTING_WEIGHTS, localPrefillMaxTokens: 0, blockSize: BLOCK, seed: run + 1 });
        const charges: { doneAtMs: number; charge: RequestCharge }[] = [];
        const queued = ids.map(() => 0);
        let reportedAt = -Infinity;
        for (let r = 0; r < 60; r++) {
          nowMs += int(800);
          queued.forEach((_, w) => (queued[w] = Math.max(0, queued[w] - int(4000))));
          replay.advance(nowMs, (w) => queued[w]);
          for (const c of charges.filter((c) => c.doneAtMs <= nowMs)) c.charge.end();
          charges.splice(0, charges.length, ...charges.filter((c) => c.doneAtMs > nowMs));
          if (nowMs - reportedAt >= REPORT_MS) {
            reportedAt = nowMs;
            ids.forEach((id, w) => {
              workers[w].load = { queuedPrefillTokens: queued[w], activeDecodeBlocks: 0 };
              ledger.noteReport(id, queued[w]);
            });
          }
          const promptTokens = 1 + int(20 * BLOCK);
          const cap = reusableBlocks(promptTokens, BLOCK);
          const matches = new Map<string, LocationMatch>();
          for (const id of ids) {
            if (rng() < 0.5) continue;
            const device = int(cap + 1);
            matches.set(id, { device, host: device, ssd: device, best: device, shared: int(device + 1) });
          }
          const got = replay.place(promptTokens, matches);
          const want = placer.place({
            roster,
            matches,
            promptTokens,
            reusableBlocks: reusableBlocks(promptTokens, BLOCK),
            loads: { ledger, peers, nowMs },
          })!;
          expect(ids[got.worker], `run ${run} request ${r}`).toBe(want.prefill.info.workerId);
          const output = int(500);
          const doneAtMs = nowMs + int(3000);
          replay.sent(got.worker, got.sentTokens, promptTokens, output, doneAtMs);
          charges.push({ doneAtMs, charge: RequestCharge.forPlacement(ledger, want, promptTokens, output, BLOCK) });
          queued[got.worker] += got.sentTokens;
        }
      }
    });
  }
});
