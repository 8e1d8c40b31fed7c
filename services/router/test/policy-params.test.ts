// A request's selection policy: blank takes the deployment default, a malformed one is refused
// with INVALID_ARGUMENT naming the field, and a bad KVTIER_DEFAULT_POLICY stops the router at start.
import { describe, expect, it } from "vitest";
import { GenerateRequest } from "@kvtier/proto";
import { ConfigError, KvtierError } from "@kvtier/platform";
import { readRouterConfig } from "../src/config.js";
import { parseGenerateRequest } from "../src/generate-params.js";

/** Every service needs the deployment's service credential. */
const TOKEN_ENV = { KVTIER_SERVICE_TOKEN: "t".repeat(32) };

const req = (policy: string): GenerateRequest =>
  GenerateRequest.fromPartial({ prompt: "Once upon a time", maxTokens: 4, addBos: true, policy });

describe("policy parameter", () => {
  it("canonicalises a policy and applies the default when blank", () => {
    expect(parseGenerateRequest(req("snapkv@25"), "fp32", ["fp32"]).policy).toBe("snapkv@25");
    expect(parseGenerateRequest(req(" quest@12.50 "), "fp32", ["fp32"]).policy).toBe("quest@12.5");
    expect(parseGenerateRequest(req(""), "fp32", ["fp32"], "h2o@50").policy).toBe("h2o@50");
    expect(parseGenerateRequest(req(""), "fp32", ["fp32"]).policy).toBe("none");
    expect(parseGenerateRequest(req("none"), "fp32", ["fp32"], "h2o@50").policy).toBe("none");
  });

  it("refuses a malformed policy with INVALID_ARGUMENT naming the field", () => {
    for (const bad of ["snapkv", "snapkv@0", "snapkv@250", "lru@25", "snapkv@25%"]) {
      let err: unknown;
      try {
        parseGenerateRequest(req(bad), "fp32", ["fp32"]);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(KvtierError);
      expect((err as KvtierError).code).toBe("INVALID_ARGUMENT");
      expect((err as KvtierError).field).toBe("policy");
    }
  });

  it("KVTIER_DEFAULT_POLICY is validated and canonicalised at start", () => {
    expect(readRouterConfig({ ...TOKEN_ENV, KVTIER_DEFAULT_POLICY: "adaptivekv@25.0" }).defaultPolicy).toBe("adaptivekv@25");
    expect(readRouterConfig({ ...TOKEN_ENV }).defaultPolicy).toBe("none");
    expect(() => readRouterConfig({ ...TOKEN_ENV, KVTIER_DEFAULT_POLICY: "snapkv@-1" })).toThrow(ConfigError);
  });
});
