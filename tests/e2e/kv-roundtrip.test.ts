// Exporting KV blocks, sending them through a real kvstore process and importing them gives the
// same next tokens and logits as keeping them in place (fp32 bit-identical; fp16 close).
import type { Stack } from "@kvtier/local-stack";
import { KvStoreClient, ServiceToken } from "@kvtier/platform";
import { chainBlockHashes, namespaceHash } from "@kvtier/kv-router";
import { KV_BLOCK_LAYOUT_VERSION, LlamaEngine } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referenceModel } from "./reference.js";
import { testStack } from "./stack.js";

const BLOCK = 16;
let stack: Stack;
let store: KvStoreClient;

beforeAll(async () => {
  stack = await testStack({ prefillWorkers: 0 });
  store = new KvStoreClient(stack.kvstoreEndpoint, { serviceToken: new ServiceToken(stack.serviceToken) });
});
afterAll(async () => {
  store?.close();
  await stack?.stop();
});

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe("KV blocks through the kvstore", () => {
  for (const [codec, tolerance] of [
    ["fp32", 0],
    ["fp16", 1e-2],
  ] as const) {
    it(`${codec}: imported blocks give the in-place next-token logits`, async () => {
      const { model, tokenizer } = referenceModel();
      const tokens = tokenizer.encode(
        "Once upon a time, there was a big bear who lived in a cave near a river. He liked honey and fish very much.",
        { bos: true },
      );
      const full = Math.floor(tokens.length / BLOCK);
      const ns = namespaceHash({
        modelId: model.modelId,
        layoutVersion: KV_BLOCK_LAYOUT_VERSION,
        blockSize: BLOCK,
        tenantSalt: `roundtrip-${codec}`,
      });
      const hashes = chainBlockHashes(ns, tokens, BLOCK);

      const source = new LlamaEngine(model, { blockSize: BLOCK, capacityBlocks: 32 });
      source.openSequence("a");
      source.prefill("a", tokens.slice(0, full * BLOCK));
      const inPlace = source.prefill("a", tokens.slice(full * BLOCK));
      for (const b of source.exportBlocks("a", 0, full, codec, hashes)) await store.put(b);

      const run = await store.getRun(hashes, codec);
      expect(run.blocks).toHaveLength(full);
      const target = new LlamaEngine(model, { blockSize: BLOCK, capacityBlocks: 32 });
      target.openSequence("b");
      target.importBlocks("b", run.blocks);
      const imported = target.prefill("b", tokens.slice(full * BLOCK));
      expect(maxAbsDiff(imported, inPlace)).toBeLessThanOrEqual(tolerance);
      const argmax = (x: Float32Array): number => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);
      expect(argmax(imported)).toBe(argmax(inPlace));
    });
  }
});
