// A request's codec: aliases resolve to ids, unknown codecs and KIVI on a block size below its
// 32-token groups are refused naming the field, a bad KVTIER_DEFAULT_CODEC stops the router; and
// prefix matches count store blocks only in the request's codec, device blocks for any codec.
import { describe, expect, it } from "vitest";
import { GenerateRequest } from "@kvtier/proto";
import { ConfigError, KvtierError } from "@kvtier/platform";
import { PrefixIndex, matchForCodec } from "@kvtier/kv-router";
import { KNOWN_CODECS } from "@kvtier/tensor";
import { readRouterConfig } from "../src/config.js";
import { parseGenerateRequest } from "../src/generate-params.js";

/** Every service needs the deployment's service credential. */
const TOKEN_ENV = { KVTIER_SERVICE_TOKEN: "t".repeat(32) };

const req = (codec: string): GenerateRequest =>
  GenerateRequest.fromPartial({ prompt: "Once upon a time", maxTokens: 4, addBos: true, codec });

function refusal(fn: () => unknown): KvtierError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KvtierError);
    return err as KvtierError;
  }
  throw new Error("expected a refusal");
}

describe("codec parameter", () => {
  it("resolves aliases to codec ids and applies the default when blank", () => {
    expect(parseGenerateRequest(req("kivi2"), "fp32", KNOWN_CODECS, "none", 32).codec).toBe("kivi2-g32-f16");
    expect(parseGenerateRequest(req("int8"), "fp32", KNOWN_CODECS, "none", 16).codec).toBe("int8-kc-vt32-f16");
    expect(parseGenerateRequest(req("fp8-e4m3"), "fp32", KNOWN_CODECS, "none", 16).codec).toBe("fp8-e4m3");
    expect(parseGenerateRequest(req(""), "fp16", KNOWN_CODECS, "none", 16).codec).toBe("fp16");
  });

  it("refuses an unknown codec and KIVI below its block size, naming the field", () => {
    const unknown = refusal(() => parseGenerateRequest(req("int3"), "fp32", KNOWN_CODECS, "none", 16));
    expect(unknown.code).toBe("INVALID_ARGUMENT");
    expect(unknown.field).toBe("codec");
    expect(unknown.message).toMatch(/unknown codec "int3"/);
    const kivi = refusal(() => parseGenerateRequest(req("kivi2"), "fp32", KNOWN_CODECS, "none", 16));
    expect(kivi.code).toBe("INVALID_ARGUMENT");
    expect(kivi.field).toBe("codec");
    expect(kivi.message).toMatch(/block_size >= 32/);
  });

  it("checks KVTIER_DEFAULT_CODEC against KVTIER_BLOCK_SIZE at start", () => {
    expect(readRouterConfig({ ...TOKEN_ENV, KVTIER_DEFAULT_CODEC: "kivi4", KVTIER_BLOCK_SIZE: "32" }).defaultCodec).toBe("kivi4-g32-f16");
    expect(() => readRouterConfig({ ...TOKEN_ENV, KVTIER_DEFAULT_CODEC: "kivi4", KVTIER_BLOCK_SIZE: "16" })).toThrow(ConfigError);
    expect(() => readRouterConfig({ ...TOKEN_ENV, KVTIER_DEFAULT_CODEC: "nope" })).toThrow(/KVTIER_DEFAULT_CODEC|unknown codec/);
  });
});

describe("prefix matches per codec", () => {
  const h = (i: number): Uint8Array => new Uint8Array(16).fill(i + 1);
  const chain = [h(0), h(1), h(2), h(3)];

  it("a store location counts only blocks in the request's codec; device blocks count for every codec", () => {
    const index = new PrefixIndex();
    index.applyStored("kvstore-a", "host", "fp32", chain);
    index.applyStored("kvstore-a", "host", "kivi2-g32-f16", chain.slice(0, 1));
    index.applyStored("worker-1", "device", "raw", chain.slice(0, 2));
    const fp32 = matchForCodec(index, chain, "fp32");
    expect(fp32.get("kvstore-a")?.best).toBe(4);
    expect(fp32.get("worker-1")?.device).toBe(2);
    const kivi = matchForCodec(index, chain, "kivi2-g32-f16");
    expect(kivi.get("kvstore-a")?.best).toBe(1);
    expect(kivi.get("worker-1")?.device).toBe(2);
    expect(matchForCodec(index, chain, "fp16").get("kvstore-a")).toBeUndefined();
  });
});
