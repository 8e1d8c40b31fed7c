// The router bench's ingest stream: a pass leaves the index as it found it (its drain removes
// every block it stored, in sequence, with no gap), so the bench can time the same stream again.
import { describe, expect, it } from "vitest";
import { IndexFeed, PrefixIndex } from "@kvtier/kv-router";
import { decodeKvEventBatch } from "@kvtier/platform";
import { makeEventStream, timeIngest } from "../src/router-bench-ingest.js";

describe("router bench ingest stream", () => {
  it("is drained after each timed pass, so passes repeat over the same index", () => {
    // past the steady state of 4096 blocks per announcer, so the stream removes as well as stores
    const stream = makeEventStream(400_000);
    const index = new PrefixIndex({ seed: 1 });
    index.applyStored("elsewhere", "host", "fp16", [Uint8Array.from({ length: 16 }, (_, i) => i)]);
    // without the drain, the stream leaves its announcers' blocks
    const probe = new PrefixIndex({ seed: 1 });
    const feed = new IndexFeed(probe);
    for (const m of stream.messages) feed.accept(decodeKvEventBatch(m));
    expect(probe.blockCount()).toBeGreaterThan(200_000);
    expect(probe.blockCount()).toBeLessThan(stream.blockOps);
    for (let pass = 0; pass < 2; pass++) {
      expect(timeIngest(index, stream)).toBeGreaterThan(0);
      expect(index.blockCount(), `after pass ${pass}`).toBe(1);
      expect(index.locations(), `after pass ${pass}`).toEqual(["elsewhere"]);
    }
  });
});
