// Router replicas over a real stack (two routers, two decode workers, a prefill worker, the
// kvstore; real NATS and Redis): a replica that loses KV event batches (fault injection:
// KVTIER_FAULT_DROP_EVENT_BATCHES=3 drops a third of the batches it receives, at random; the
// loss happens at the receiver, as on the network, so nothing else changes) detects the gaps and
// converges to what every announcer really holds; a replica killed and started again rebuilds an
// index equal to its peer's (kvstore included); replicas hear each other; a session sticks to its
// decode worker across replicas.
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack, StackProcess } from "@kvtier/local-stack";
import { closeNats, connectNats, type NatsConnection } from "@kvtier/platform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { announcerTruth, eventually, metricWithLabels, routerIndex, sortedHeld } from "./index-probe.js";
import { scrape, testStack } from "./stack.js";

const KEY = "key-alpha";
const CONVERGE_MS = 20_000;
const ANIMALS = ["cat", "dog", "bird", "fish", "frog", "bear", "duck", "fox", "owl", "pig", "cow", "hen"];
const PLACES = ["park", "garden", "forest", "house", "river", "school"];
/** A prompt of a few blocks whose first block differs from every other i's. */
const prompt = (i: number): string =>
  `${ANIMALS[i % ANIMALS.length]} ${ANIMALS[Math.floor(i / ANIMALS.length) % ANIMALS.length]} and ${PLACES[i % PLACES.length]}: once upon a time a little ${ANIMALS[(i * 5) % ANIMALS.length]} went to the ${PLACES[(i * 7) % PLACES.length]} to play with a ball all day long`;

let stack: Stack;
let nc: NatsConnection;
const clients = new Map<string, KvTierServiceClient>();
const client = (address: string): KvTierServiceClient => {
  let c = clients.get(address);
  if (!c) clients.set(address, (c = routerClient(address)));
  return c;
};
const announcers = (): string[] => ["decode-1", "decode-2", "prefill-1", "kvstore-1"];

/** Whether router `p`'s index lists exactly what each announcer holds; a description of the first difference otherwise. */
async function matchesTruth(p: StackProcess): Promise<true | string> {
  for (const id of announcers()) {
    const truth = await announcerTruth(nc, stack.namespace, id);
    const seen = sortedHeld((await routerIndex(p.metricsPort!, stack.serviceToken, id)).held);
    if (JSON.stringify(seen) !== JSON.stringify(truth))
      return `${p.name} lists ${seen.length} entries of ${id}, which holds ${truth.length}`;
  }
  return true;
}

beforeAll(async () => {
  stack = await testStack({
    routers: 2,
    prefillWorkers: 1,
    decodeWorkers: 2,
    processEnv: { "router-2": { KVTIER_FAULT_DROP_EVENT_BATCHES: "3", KVTIER_ROUTING_QUIET_RESYNC_MS: "1000" } },
  });
  nc = await connectNats(stack.natsUrl, "e2e-router-replicas");
});
afterAll(async () => {
  for (const c of clients.values()) c.close();
  await closeNats(nc);
  await stack?.stop();
});

describe("router replicas", () => {
  it("hear each other's load shares", async () => {
    for (const name of ["router", "router-2"]) {
      await eventually(
        `${name} hears its peer`,
        5000,
        async () => (await scrape(stack.process(name).metricsPort!, "kvtier_router_peer_routers")) === 1,
      );
    }
  });

  it("a replica that loses a third of the KV event batches detects the gaps and converges to the announcers' state", async () => {
    const [a, b] = stack.routerAddresses;
    for (let i = 0; i < 18; i++) await generate(client(i % 2 === 0 ? a : b), request(prompt(i), 4), KEY);
    const lossy = stack.process("router-2");
    await eventually("router-2 converges", CONVERGE_MS, () => matchesTruth(lossy));
    await eventually("router converges", CONVERGE_MS, () => matchesTruth(stack.process("router")));
    const port = lossy.metricsPort!;
    expect(await metricWithLabels(port, "kvtier_router_kv_event_batches_total", { outcome: "fault_dropped" })).toBeGreaterThan(0);
    expect(await metricWithLabels(port, "kvtier_router_kv_event_batches_total", { outcome: "gap" })).toBeGreaterThan(0);
    expect(await metricWithLabels(port, "kvtier_router_kv_snapshots_total", { result: "applied" })).toBeGreaterThan(0);
    // the replica without faults saw no gap at all
    expect(await metricWithLabels(stack.process("router").metricsPort!, "kvtier_router_kv_event_batches_total", { outcome: "gap" })).toBe(
      0,
    );
    expect((await routerIndex(port, stack.serviceToken)).blocks).toBeGreaterThan(12);
  });

  it("a replica killed and started again rebuilds an index equal to its peer's, kvstore included", async () => {
    await stack.kill("router-2");
    const peer = stack.process("router");
    for (let i = 18; i < 24; i++) await generate(client(stack.routerAddress), request(prompt(i), 4), KEY);
    const restarted = await stack.addRouter();
    let last = "";
    await eventually("the restarted replica's index equals its peer's", CONVERGE_MS, async () => {
      const [mine, theirs] = await Promise.all([
        routerIndex(restarted.metricsPort!, stack.serviceToken),
        routerIndex(peer.metricsPort!, stack.serviceToken),
      ]);
      last = `${mine.blocks} blocks (${mine.digest.slice(0, 8)}) vs ${theirs.blocks} (${theirs.digest.slice(0, 8)})`;
      return mine.digest === theirs.digest ? true : last;
    });
    const idx = await routerIndex(restarted.metricsPort!, stack.serviceToken);
    expect(Object.keys(idx.locations).sort()).toEqual(announcers().sort());
    expect(idx.locations["kvstore-1"].entries).toBeGreaterThan(0);
    expect(await matchesTruth(restarted)).toBe(true);
  });

  it("counts prefix tokens available at the best worker >= captured by the chosen one, and what was loaded", async () => {
    const port = stack.process("router").metricsPort!;
    const kinds = ["available", "captured", "loaded"] as const;
    const read = async (): Promise<number[]> =>
      Promise.all(kinds.map((kind) => metricWithLabels(port, "kvtier_router_prefix_hit_tokens_total", { kind })));
    const before = await read();
    const r = await generate(client(stack.routerAddress), request(prompt(3), 2), KEY); // prompt(3) ran before: cached
    const delta = (await read()).map((v, i) => v - before[i]);
    expect(delta[0]).toBeGreaterThan(0);
    expect(delta[1]).toBeLessThanOrEqual(delta[0]);
    expect(delta[1]).toBeGreaterThan(0);
    expect(delta[2]).toBe(r.usage.cachedTokens);
    expect(await scrape(port, "kvtier_router_decision_seconds_count")).toBeGreaterThan(0);
  });

  it("a session sticks to its decode worker, across replicas, where load alone would go elsewhere", async () => {
    const live = stack.processes.filter((p) => p.service === "router" && p.name !== "router-2");
    const via = (i: number): KvTierServiceClient => client(`127.0.0.1:${live[i % live.length].port}`);
    const first = await generate(via(0), request(prompt(40), 2, { sessionId: "conversation-1" }), KEY);
    const home = first.usage.decodeWorker;
    await new Promise((r) => setTimeout(r, 600)); // the placement reaches the other replica with its next share
    // a long request of the session keeps its worker busy: ~28 decode blocks, 112 tokens of load at
    // decodeLoad 0.25, less than the 512-token affinity
    let longEnded = false;
    let streaming!: () => void;
    const longStreams = new Promise<void>((r) => (streaming = r));
    // prompt(47) runs the full 400 tokens greedily (most prompts here reach EOS after 150-270)
    const long = generate(
      client(stack.routerAddress),
      request(prompt(47), 400, { sessionId: "conversation-1" }),
      KEY,
      (n) => n === 1 && streaming(),
    ).finally(() => (longEnded = true));
    await longStreams; // the long request holds its decode worker from here on, for ~400 decode steps
    const sticky = await generate(via(1), request(prompt(42), 2, { sessionId: "conversation-1" }), KEY);
    const loose = await generate(client(stack.routerAddress), request(prompt(43), 2), KEY);
    const overlapped = !longEnded;
    const longDone = await long;
    expect(overlapped).toBe(true); // the long request was still running during the two above
    expect(longDone.usage.decodeWorker).toBe(home);
    expect(sticky.usage.decodeWorker).toBe(home);
    expect(loose.usage.decodeWorker).not.toBe(home); // the control: without the session, load decides
  });

  it("a worker that stops heartbeating leaves every replica's index", async () => {
    await stack.kill("decode-2");
    for (const p of stack.processes.filter((x) => x.service === "router" && x.name !== "router-2")) {
      await eventually(
        `${p.name} drops decode-2`,
        10_000,
        async () => !Object.keys((await routerIndex(p.metricsPort!, stack.serviceToken)).locations).includes("decode-2"),
      );
    }
  });
});
