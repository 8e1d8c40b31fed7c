// Runs the compiled worker (dist/engine-worker.js): build with `pnpm exec tsc -b libs/tensor` first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaEngine } from "../src/engine.js";
import { EngineError } from "../src/engine-error.js";
import { EngineHost } from "../src/engine-host.js";
import { KvBlockError } from "../src/kv-block-error.js";
import { IncrementalDetokenizer } from "../src/detokenizer.js";
import { Sampler } from "../src/sampler.js";
import { argmax, fakeHash, greedyContinuation, stories, storyTokens } from "./engine-fixtures.js";
import { checkpointPath } from "./model-dir.js";

describe("EngineHost (engine in a worker thread)", () => {
  const { model, tokenizer } = stories();
  let host: EngineHost;

  beforeAll(async () => {
    host = await EngineHost.start({ checkpointPath: checkpointPath(), blockSize: 16, capacityBlocks: 16 });
  });
  afterAll(async () => {
    await host.close();
  });

  it("reports the model it loaded", () => {
    expect(host.modelInfo.modelId).toBe(model.modelId);
    expect(host.modelInfo.modelId).toMatch(/^stories260K@[0-9a-f]{8}$/);
    expect(host.modelInfo.config).toEqual(model.config);
  });

  it("greedy 30-token continuation matches the engine run directly", async () => {
    const prompt = tokenizer.encode("Once upon a time", { bos: true });
    const direct = greedyContinuation(new LlamaEngine(model, { blockSize: 16, capacityBlocks: 16 }), prompt, 30);
    await host.openSequence("gen");
    let logits = await host.prefill("gen", prompt);
    const sampler = new Sampler({ temperature: 0, topP: 1, seed: 0 });
    const detok = new IncrementalDetokenizer(tokenizer, prompt[prompt.length - 1]);
    const tokens: number[] = [];
    let text = "";
    for (let i = 0; i < 30; i++) {
      const { token } = sampler.sample(logits, 0);
      tokens.push(token);
      text += detok.push(token);
      [logits] = await host.decodeStep([{ seqId: "gen", token }]);
    }
    text += detok.flush();
    await host.closeSequence("gen");
    expect(tokens).toEqual(direct.tokens);
    expect(text).toBe(direct.text);
    expect(await host.freeBlocks()).toBe(16);
  });

  it("re-throws errors with their class, name, code and message", async () => {
    const err = await host.length("missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toMatchObject({ name: "EngineError", code: "UNKNOWN_SEQUENCE", message: "no open sequence missing" });
    await host.openSequence("x");
    const bad = new Uint8Array(200);
    await expect(host.importBlocks("x", [bad])).rejects.toBeInstanceOf(KvBlockError);
    await expect(host.importBlocks("x", [bad])).rejects.toMatchObject({ code: "BAD_MAGIC" });
    await host.closeSequence("x");
  });

  it("moves blocks both ways and forwards cache events", async () => {
    const stored: Uint8Array[][] = [];
    const off = host.onStored((hs) => stored.push(hs));
    const prompt = storyTokens(40);
    const hashes = [fakeHash("a"), fakeHash("b")];
    await host.openSequence("s");
    expect(await host.reserve("s", 48)).toBe(true);
    const next = argmax(await host.prefill("s", prompt, { chunkTokens: 7 }));
    await host.registerBlocks("s", 0, hashes);
    const blocks = await host.exportBlocks("s", 0, 2, "fp32", hashes);
    const tail = await host.exportTail("s", "fp32", fakeHash("t"), await host.length("s"));
    expect(tail).not.toBeNull();
    expect(await host.length("s")).toBe(40);
    off();
    expect(stored.flat().map((h) => Buffer.from(h).toString("hex"))).toEqual(hashes.map((h) => Buffer.from(h).toString("hex")));

    const local = new LlamaEngine(model, { blockSize: 16, capacityBlocks: 16 });
    local.openSequence("s");
    local.importBlocks("s", [...blocks, tail as Uint8Array]);
    const [viaHost] = await host.decodeStep([{ seqId: "s", token: next }]);
    expect(local.decodeStep([{ seqId: "s", token: next }])[0]).toEqual(viaHost);

    // and into the worker: the caller's arrays stay usable afterwards
    await host.openSequence("t");
    expect(await host.attachCached("t", hashes)).toBe(2);
    await host.closeSequence("t");
    await host.openSequence("u");
    await host.importBlocks("u", [...blocks, tail as Uint8Array]);
    expect(blocks[0].byteLength).toBeGreaterThan(0);
    const [imported] = await host.decodeStep([{ seqId: "u", token: next }]);
    expect(imported).toEqual(viaHost);
    await host.closeSequence("s");
    await host.closeSequence("u");
  });

  it("fails to start on a bad checkpoint path, and close() is idempotent", async () => {
    await expect(EngineHost.start({ checkpointPath: "/nonexistent/model.bin", blockSize: 16, capacityBlocks: 4 })).rejects.toMatchObject({
      code: "ENOENT",
    });
    const h = await EngineHost.start({ checkpointPath: checkpointPath(), blockSize: 16, capacityBlocks: 4 });
    await h.openSequence("a");
    const pending = h.prefill("a", storyTokens(10));
    const closed = h.close();
    expect(h.close()).toBe(closed);
    await expect(pending).resolves.toBeInstanceOf(Float32Array); // in-flight work drains
    await closed;
    await expect(h.length("a")).rejects.toMatchObject({ code: "ENGINE_CLOSED" });
  });
});
