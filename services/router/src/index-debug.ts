// GET /debug/index on the router's metrics server: what the prefix index holds, as counts and
// order-independent digests per location, so two replicas (or a replica and the announcers
// themselves) can be compared. `?location=ID` also lists that location's entries. Read-only.
import { createHash } from "node:crypto";
import type { HttpRouteResponse } from "@kvtier/platform";
import type { HeldBlock, IndexFeed } from "@kvtier/kv-router";

/** Most entries listed for one location (a debug page, not an export). */
const MAX_DEBUG_ENTRIES = 200_000;

/** Per location: entries (block x tier x codec) and a digest of them. */
export interface LocationDigest {
  entries: number;
  digest: string;
}

/** What GET /debug/index answers. */
export interface IndexDebug {
  blocks: number;
  locations: Record<string, LocationDigest>;
  /** sha256 over the locations' digests in id order: equal iff every location holds the same. */
  digest: string;
  tableBytes: number;
  announcers: Record<string, { incarnation: string; lastSeq: number; awaitingSnapshot: boolean }>;
  held?: HeldBlock[];
}

/** Digest of a list of held blocks: sha256 over "hash tier codec" lines in sorted order. */
function digestOf(held: readonly HeldBlock[]): string {
  const lines = held.map((b) => `${b.hashHex} ${b.tier} ${b.codec}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/** The /debug/index document for `feed` (one scan of the index, plus one per listed location). */
export function describeIndex(feed: IndexFeed, listLocation?: string): IndexDebug {
  const per = new Map<string, HeldBlock[]>();
  feed.index.forEachHeld((hash, location, tier, codec) => {
    let list = per.get(location);
    if (list === undefined) per.set(location, (list = []));
    list.push({ hashHex: Buffer.from(hash).toString("hex"), tier, codec });
  });
  const locations: Record<string, LocationDigest> = {};
  const all = createHash("sha256");
  for (const id of [...per.keys()].sort()) {
    const held = per.get(id)!;
    locations[id] = { entries: held.length, digest: digestOf(held) };
    all.update(`${id}=${locations[id].digest}\n`);
  }
  const announcers: IndexDebug["announcers"] = {};
  for (const id of [...per.keys()].sort()) {
    const st = feed.state(id);
    if (st) announcers[id] = { ...st };
  }
  const out: IndexDebug = {
    blocks: feed.index.blockCount(),
    locations,
    digest: all.digest("hex"),
    tableBytes: feed.index.tableBytes(),
    announcers,
  };
  if (listLocation !== undefined) out.held = feed.index.snapshot(listLocation).slice(0, MAX_DEBUG_ENTRIES);
  return out;
}

/** The HTTP answer for a GET /debug/index request URL. */
export function indexDebugRoute(feed: IndexFeed): (url: URL) => HttpRouteResponse {
  return (url) => ({
    contentType: "application/json",
    body: JSON.stringify(describeIndex(feed, url.searchParams.get("location") ?? undefined)),
  });
}
