// What a router's prefix index holds (GET /debug/index on its metrics port), and what an
// announcer (worker or kvstore) really holds (its own snapshot, asked over NATS), for comparing
// the two in end-to-end tests.
import { KvEventBatch, SnapshotRequest, Tier } from "@kvtier/proto";
import { SERVICE_TOKEN_HEADER, kvSnapshotSubject, type NatsConnection } from "@kvtier/platform";

/** One entry as /debug/index lists it. */
export interface HeldEntry {
  hashHex: string;
  tier: string;
  codec: string;
}

/** The /debug/index document (the parts the tests read). */
export interface IndexDebug {
  blocks: number;
  digest: string;
  locations: Record<string, { entries: number; digest: string }>;
  held?: HeldEntry[];
}

/** GET /debug/index (with `?location=` when given) from a router's metrics port, presenting the stack's service token. */
export async function routerIndex(metricsPort: number, serviceToken: string, location?: string): Promise<IndexDebug> {
  const q = location === undefined ? "" : `?location=${encodeURIComponent(location)}`;
  const res = await fetch(`http://127.0.0.1:${metricsPort}/debug/index${q}`, { headers: { [SERVICE_TOKEN_HEADER]: serviceToken } });
  if (!res.ok) throw new Error(`GET /debug/index: ${res.status}`);
  return (await res.json()) as IndexDebug;
}

const TIER_NAMES: Record<number, string> = { [Tier.TIER_DEVICE]: "device", [Tier.TIER_HOST]: "host", [Tier.TIER_SSD]: "ssd" };

/** What `announcerId` holds now, from its own snapshot, sorted as the router lists it. */
export async function announcerTruth(nc: NatsConnection, ns: string, announcerId: string): Promise<HeldEntry[]> {
  const reply = await nc.request(kvSnapshotSubject(ns, announcerId), SnapshotRequest.encode({ requester: "e2e-test" }).finish(), {
    timeout: 2000,
  });
  const batch = KvEventBatch.decode(reply.data);
  const out: HeldEntry[] = [];
  for (const e of batch.events) {
    if (e.event?.$case !== "stored") continue;
    for (const h of e.event.value.blockHashes)
      out.push({ hashHex: Buffer.from(h).toString("hex"), tier: TIER_NAMES[e.event.value.medium], codec: e.event.value.codec });
  }
  const key = (x: HeldEntry): string => `${x.hashHex} ${x.tier} ${x.codec}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Sorted like announcerTruth. */
export function sortedHeld(held: HeldEntry[] | undefined): HeldEntry[] {
  const key = (x: HeldEntry): string => `${x.hashHex} ${x.tier} ${x.codec}`;
  return [...(held ?? [])].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Polls `check` until it returns true; throws with `what` (and the last state) after `ms`. */
export async function eventually(what: string, ms: number, check: () => Promise<boolean | string>): Promise<void> {
  const until = Date.now() + ms;
  let last: boolean | string = false;
  while (Date.now() < until) {
    last = await check();
    if (last === true) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${ms} ms${typeof last === "string" ? `: ${last}` : ""}`);
}

/** A labelled metric's value from a Prometheus text page (0 when absent). */
export async function metricWithLabels(metricsPort: number, name: string, labels: Record<string, string>): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of body.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
