// The environment each stack process gets: the launcher's half of the service contract.
import { describe, expect, it } from "vitest";
import { serviceEnvironment } from "../src/service-env.js";
import { stackOptionsWithDefaults } from "../src/stack-options.js";

const wiring = { redisUrl: "redis://r:1", natsUrl: "nats://n:2", kvstore: { id: "kvstore-1", endpoint: "127.0.0.1:7000" } };
const opts = stackOptionsWithDefaults({ namespace: "ns1", logDir: "/tmp", heartbeatMs: 200, deviceBlocks: 64 });

describe("serviceEnvironment", () => {
  it("gives every process the shared settings and the parent's environment", () => {
    const env = serviceEnvironment({ service: "kvstore", name: "kvstore-1" }, opts, wiring, { PATH: "/bin", KVTIER_NAMESPACE: "parent" });
    expect(env).toMatchObject({
      PATH: "/bin",
      REDIS_URL: "redis://r:1",
      NATS_URL: "nats://n:2",
      KVTIER_NAMESPACE: "ns1",
      KVTIER_HEARTBEAT_MS: "200",
      KVTIER_METRICS_PORT: "0",
      KVTIER_KVSTORE_ID: "kvstore-1",
      KVTIER_KVSTORE_PORT: "0",
    });
    expect(env["KVTIER_BLOCK_SIZE"]).toBeUndefined();
    expect(env["KVTIER_DEVICE_BLOCKS"]).toBeUndefined();
  });

  it("points workers at the kvstore and gives them their ids", () => {
    const prefill = serviceEnvironment({ service: "prefill", name: "prefill-2" }, opts, wiring, {});
    expect(prefill).toMatchObject({
      KVTIER_WORKER_ID: "prefill-2",
      KVTIER_KVSTORE_ENDPOINT: "127.0.0.1:7000",
      KVTIER_KVSTORE_ID: "kvstore-1",
      KVTIER_DEVICE_BLOCKS: "64",
    });
    expect(prefill["KVTIER_DECODE_PORT"]).toBeUndefined();
    const decode = serviceEnvironment({ service: "decode", name: "decode-1" }, opts, wiring, {});
    expect(decode).toMatchObject({ KVTIER_WORKER_ID: "decode-1", KVTIER_DECODE_HOST: "127.0.0.1", KVTIER_DECODE_PORT: "0" });
  });

  it("allows anonymous callers by default only when no API key is configured", () => {
    const open = serviceEnvironment({ service: "router", name: "router" }, opts, wiring, {});
    expect(open).toMatchObject({ KVTIER_API_KEYS: "", KVTIER_ALLOW_ANONYMOUS: "true", KVTIER_ROUTER_PORT: "0" });
    expect(open["KVTIER_TENANT_SECRET"]).toMatch(/^[0-9a-f]{32}$/);
    const keyed = stackOptionsWithDefaults({ logDir: "/tmp", apiKeys: { a: "t1" } });
    expect(serviceEnvironment({ service: "router", name: "router" }, keyed, wiring, {})["KVTIER_ALLOW_ANONYMOUS"]).toBe("false");
  });

  it("refuses to start a worker before the kvstore is known", () => {
    expect(() => serviceEnvironment({ service: "decode", name: "decode-1" }, opts, { redisUrl: "r", natsUrl: "n" }, {})).toThrow(
      /decode-1 needs the kvstore/,
    );
  });
});
