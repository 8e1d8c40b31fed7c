// readKvStoreConfig: defaults, overrides, blanks as unset, and refusals naming the variable.
import { ConfigError } from "@kvtier/platform";
import { describe, expect, it } from "vitest";
import { DEFAULT_HOST_CAPACITY_BYTES, DEFAULT_KVSTORE_PORT, readKvStoreConfig } from "../src/config.js";

describe("readKvStoreConfig", () => {
  it("has documented defaults", () => {
    const c = readKvStoreConfig({});
    expect(c).toMatchObject({ storeId: "kvstore-node-1", host: "127.0.0.1", port: DEFAULT_KVSTORE_PORT, hostCapacityBytes: DEFAULT_HOST_CAPACITY_BYTES });
    expect(c.hostCapacityBytes).toBe(256 * 1024 * 1024);
    expect(c.common.namespace).toBe("kvtier");
  });

  it("reads overrides; a blank value counts as unset", () => {
    const c = readKvStoreConfig({ KVTIER_NODE_ID: "n7", KVTIER_KVSTORE_PORT: "0", KVTIER_HOST_CAPACITY_BYTES: "4096", KVTIER_KVSTORE_HOST: " ", KVTIER_NAMESPACE: "abc" });
    expect(c).toMatchObject({ storeId: "kvstore-n7", port: 0, hostCapacityBytes: 4096, host: "127.0.0.1" });
    expect(c.common.namespace).toBe("abc");
    expect(readKvStoreConfig({ KVTIER_KVSTORE_ID: "store-a" }).storeId).toBe("store-a");
  });

  it("refuses malformed values, naming the variable", () => {
    expect(() => readKvStoreConfig({ KVTIER_HOST_CAPACITY_BYTES: "0" })).toThrow(ConfigError);
    expect(() => readKvStoreConfig({ KVTIER_HOST_CAPACITY_BYTES: "1e9" })).toThrow(/KVTIER_HOST_CAPACITY_BYTES/);
    expect(() => readKvStoreConfig({ KVTIER_KVSTORE_PORT: "70000" })).toThrow(/KVTIER_KVSTORE_PORT/);
    expect(() => readKvStoreConfig({ KVTIER_KVSTORE_ID: "a.b" })).toThrow(/KVTIER_KVSTORE_ID/);
  });
});
