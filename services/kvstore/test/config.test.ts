// readKvStoreConfig: defaults, overrides, blanks as unset, and refusals naming the variable.
import { ConfigError } from "@kvtier/platform";
import { describe, expect, it } from "vitest";
import { DEFAULT_HOST_CAPACITY_BYTES, DEFAULT_KVSTORE_PORT, readKvStoreConfig } from "../src/config.js";

/** Every service needs the deployment's service credential. */
const TOKEN_ENV = { KVTIER_SERVICE_TOKEN: "t".repeat(32) };

describe("readKvStoreConfig", () => {
  it("has documented defaults", () => {
    const c = readKvStoreConfig({ ...TOKEN_ENV });
    expect(c).toMatchObject({
      storeId: "kvstore-node-1",
      host: "127.0.0.1",
      port: DEFAULT_KVSTORE_PORT,
      hostCapacityBytes: DEFAULT_HOST_CAPACITY_BYTES,
    });
    expect(c.hostCapacityBytes).toBe(256 * 1024 * 1024);
    expect(c.common.namespace).toBe("kvtier");
  });

  it("reads overrides; a blank value counts as unset", () => {
    const c = readKvStoreConfig({
      ...TOKEN_ENV,
      KVTIER_NODE_ID: "n7",
      KVTIER_KVSTORE_PORT: "0",
      KVTIER_HOST_CAPACITY_BYTES: "4096",
      KVTIER_KVSTORE_HOST: " ",
      KVTIER_NAMESPACE: "abc",
    });
    expect(c).toMatchObject({ storeId: "kvstore-n7", port: 0, hostCapacityBytes: 4096, host: "127.0.0.1" });
    expect(c.common.namespace).toBe("abc");
    expect(readKvStoreConfig({ ...TOKEN_ENV, KVTIER_KVSTORE_ID: "store-a" }).storeId).toBe("store-a");
  });

  it("requires the service credential, naming KVTIER_SERVICE_TOKEN", () => {
    expect(() => readKvStoreConfig({})).toThrow(/KVTIER_SERVICE_TOKEN: required/);
    expect(() => readKvStoreConfig({ KVTIER_SERVICE_TOKEN: "  " })).toThrow(/KVTIER_SERVICE_TOKEN: required/);
    expect(() => readKvStoreConfig({ KVTIER_SERVICE_TOKEN: "short" })).toThrow(/KVTIER_SERVICE_TOKEN: must have 32-512 characters, got 5/);
    expect(readKvStoreConfig({ ...TOKEN_ENV }).common.serviceToken.verify("t".repeat(32))).toBe(true);
  });

  it("refuses malformed values, naming the variable", () => {
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_HOST_CAPACITY_BYTES: "0" })).toThrow(ConfigError);
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_HOST_CAPACITY_BYTES: "1e9" })).toThrow(/KVTIER_HOST_CAPACITY_BYTES/);
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_KVSTORE_PORT: "70000" })).toThrow(/KVTIER_KVSTORE_PORT/);
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_KVSTORE_ID: "a.b" })).toThrow(/KVTIER_KVSTORE_ID/);
  });

  it("reads the tier settings: SSD off unless a directory is set, watermarks, write-through, admission, leases, policy", () => {
    expect(readKvStoreConfig({ ...TOKEN_ENV, KVTIER_SSD_DIR: "  " })).toMatchObject({
      ssdDir: undefined,
      ssdCapacityBytes: 8 * 1024 ** 3,
      ssdWriteThrough: false,
      ssdAdmitMinAccesses: 2,
      hostHighWatermarkPct: 95,
      hostLowWatermarkPct: 90,
      leaseTtlMs: 30_000,
      evictionPolicy: "prefix-aware",
    });
    const c = readKvStoreConfig({
      ...TOKEN_ENV,
      KVTIER_SSD_DIR: "/var/lib/kvtier",
      KVTIER_SSD_CAPACITY_BYTES: "1048576",
      KVTIER_SSD_WRITE_THROUGH: "yes",
      KVTIER_SSD_ADMIT_MIN_ACCESSES: "1",
      KVTIER_HOST_HIGH_WATERMARK_PCT: "80",
      KVTIER_LEASE_TTL_MS: "500",
      KVTIER_EVICTION_POLICY: "lru",
    });
    expect(c).toMatchObject({
      ssdDir: "/var/lib/kvtier",
      ssdCapacityBytes: 1_048_576,
      ssdWriteThrough: true,
      ssdAdmitMinAccesses: 1,
      hostHighWatermarkPct: 80,
      hostLowWatermarkPct: 80,
      leaseTtlMs: 500,
      evictionPolicy: "lru",
    });
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_HOST_HIGH_WATERMARK_PCT: "80", KVTIER_HOST_LOW_WATERMARK_PCT: "90" })).toThrow(
      /KVTIER_HOST_LOW_WATERMARK_PCT/,
    );
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_EVICTION_POLICY: "fifo" })).toThrow(/KVTIER_EVICTION_POLICY/);
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_SSD_WRITE_THROUGH: "maybe" })).toThrow(/KVTIER_SSD_WRITE_THROUGH/);
    expect(() => readKvStoreConfig({ ...TOKEN_ENV, KVTIER_LEASE_TTL_MS: String(11 * 60_000) })).toThrow(/KVTIER_LEASE_TTL_MS/);
  });
});
