// The router's routing settings and index view: KVTIER_ROUTING_* config, wire events into the
// domain form, the index digest. (Placement, loads and sessions are kv-router's: its tests.)
import { describe, expect, it } from "vitest";
import { ConfigError, batchFromWire } from "@kvtier/platform";
import { DEFAULT_ROUTING_WEIGHTS, IndexFeed } from "@kvtier/kv-router";
import { Tier, type KvEventBatch } from "@kvtier/proto";
import { readRoutingConfig } from "../src/config.js";
import { describeIndex } from "../src/index-debug.js";

describe("readRoutingConfig", () => {
  it("defaults to DEFAULT_ROUTING_WEIGHTS, blank counts as unset, and each weight is settable", () => {
    expect(readRoutingConfig({}, 250).weights).toEqual(DEFAULT_ROUTING_WEIGHTS);
    expect(readRoutingConfig({ KVTIER_ROUTING_HOST_WEIGHT: "  " }, 250).weights.host).toBe(DEFAULT_ROUTING_WEIGHTS.host);
    const c = readRoutingConfig(
      {
        KVTIER_ROUTING_DEVICE_WEIGHT: "2",
        KVTIER_ROUTING_HOST_WEIGHT: "0.5",
        KVTIER_ROUTING_SSD_WEIGHT: ".1",
        KVTIER_ROUTING_PREFILL_LOAD_WEIGHT: "1e-1",
        KVTIER_ROUTING_DECODE_LOAD_WEIGHT: "0",
        KVTIER_ROUTING_SESSION_AFFINITY_TOKENS: "64",
        KVTIER_ROUTING_TEMPERATURE: "0.5",
        KVTIER_ROUTING_RECENT_WORK_TAU_MS: "1000",
        KVTIER_ROUTING_SESSION_TTL_MS: "5000",
        KVTIER_ROUTING_QUIET_RESYNC_MS: "0",
        KVTIER_ROUTER_PEER_SHARE_MS: "100",
        KVTIER_FAULT_DROP_EVENT_BATCHES: "3",
        KVTIER_ROUTING_OVERLOAD_WEIGHT: "2.5",
        KVTIER_ROUTING_OVERLOAD_SLACK: "0.3",
        KVTIER_ROUTING_OVERLOAD_PENALTY_TOKENS: "4096",
        KVTIER_ROUTING_OVERLOAD_PENALTY_SLACK: "0.2",
      },
      250,
    );
    expect(c).toEqual({
      policy: "kv",
      weights: {
        device: 2,
        host: 0.5,
        ssd: 0.1,
        prefillLoad: 0.1,
        decodeLoad: 0,
        sessionAffinity: 64,
        temperature: 0.5,
        overload: 2.5,
        overloadSlack: 0.3,
        overloadPenalty: 4096,
        overloadPenaltySlack: 0.2,
      },
      recentWorkTauMs: 1000,
      sessionTtlMs: 5000,
      quietResyncMs: 0,
      peerShareMs: 100,
      faultDropEventBatches: 3,
    });
    expect(readRoutingConfig({}, 250).peerShareMs).toBe(250);
  });

  it("names the variable of a bad value", () => {
    for (const [name, value] of [
      ["KVTIER_ROUTING_HOST_WEIGHT", "-1"],
      ["KVTIER_ROUTING_TEMPERATURE", "warm"],
      ["KVTIER_ROUTING_SSD_WEIGHT", "NaN"],
      ["KVTIER_ROUTING_OVERLOAD_WEIGHT", "-0.5"],
      ["KVTIER_ROUTING_OVERLOAD_SLACK", "wide"],
      ["KVTIER_ROUTING_OVERLOAD_PENALTY_TOKENS", "-1"],
      ["KVTIER_ROUTING_OVERLOAD_PENALTY_SLACK", "x"],
      ["KVTIER_FAULT_DROP_EVENT_BATCHES", "1.5"],
    ]) {
      expect(() => readRoutingConfig({ [name]: value }, 250)).toThrow(ConfigError);
      expect(() => readRoutingConfig({ [name]: value }, 250)).toThrow(name);
    }
  });
});

describe("batchFromWire and describeIndex", () => {
  const h = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i) & 0xff);
  const wire = (seq: number, events: KvEventBatch["events"]): KvEventBatch => ({
    announcerId: "w1",
    incarnation: "i1",
    seq,
    ts: 0,
    snapshot: false,
    events,
  });

  it("maps media to tiers, keeps codecs, and an unspecified clear clears every tier", () => {
    const b = batchFromWire(
      wire(1, [
        {
          event: {
            $case: "stored",
            value: { blockHashes: [h(1), h(2)], parentBlockHash: new Uint8Array(0), blockSize: 16, medium: Tier.TIER_HOST, codec: "fp16" },
          },
        },
        { event: { $case: "removed", value: { blockHashes: [h(2)], medium: Tier.TIER_HOST, codec: "fp16" } } },
        {
          event: {
            $case: "stored",
            value: { blockHashes: [h(3)], parentBlockHash: new Uint8Array(0), blockSize: 16, medium: Tier.TIER_UNSPECIFIED, codec: "x" },
          },
        },
        { event: { $case: "cleared", value: { medium: Tier.TIER_UNSPECIFIED } } },
      ]),
    );
    expect(b.events).toEqual([
      { kind: "stored", tier: "host", codec: "fp16", hashes: [h(1), h(2)], parent: undefined },
      { kind: "removed", tier: "host", codec: "fp16", hashes: [h(2)] },
      { kind: "cleared", tier: undefined },
    ]);
  });

  it("gives equal digests to equal contents whatever the order they arrived in", () => {
    const a = new IndexFeed();
    const b = new IndexFeed();
    const stored = (hs: Uint8Array[]) => ({
      event: {
        $case: "stored" as const,
        value: { blockHashes: hs, parentBlockHash: new Uint8Array(0), blockSize: 16, medium: Tier.TIER_DEVICE, codec: "raw" },
      },
    });
    a.accept(batchFromWire(wire(1, [stored([h(1), h(2)]), stored([h(3)])])));
    b.accept(batchFromWire(wire(1, [stored([h(3), h(2)]), stored([h(1)])])));
    expect(describeIndex(a).digest).toBe(describeIndex(b).digest);
    b.accept(batchFromWire(wire(2, [stored([h(4)])])));
    expect(describeIndex(a).digest).not.toBe(describeIndex(b).digest);
    expect(describeIndex(b, "w1").held).toHaveLength(4);
  });
});
