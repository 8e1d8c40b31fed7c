// KIVI's full-precision residual window across the real stack (router, prefill, kvstore, decode
// as separate processes): the decode worker holds what a single-process engine with the window
// holds, so greedy output is the same token for token; the hand-off moves the shared prompt blocks
// before the window in kivi2 plus the window's blocks at full precision (fp32), and nothing else.
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { LlamaEngine, codecWriteTransform, getCodec, resolveCodecId } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { blockBytes, greedyFrom, referenceModel } from "./reference.js";
import { testStack } from "./stack.js";

const BLOCK_SIZE = 32;
const MAX_TOKENS = 48;
/** Codec of the window blocks on the wire (the pool's own precision). */
const WINDOW_CODEC = "fp32";

const PROMPT = [
  "Once upon a time, in a small village at the edge of a big green forest, there lived a girl named Anna.",
  "Anna had a little brown dog called Max, and every morning they walked together to the river to look at the fish.",
  "The river was wide and slow, and the water was so clear that Anna could see the stones on the bottom.",
  "One day, when the sun was warm and the birds were singing, Max saw a red ball floating on the water.",
  "He barked and barked, and then he jumped into the river to get it. Anna was scared, because Max was small.",
  "She ran along the bank and called his name. Max swam and swam, and at last he caught the ball in his mouth.",
  "He came back to Anna, wet and happy, and dropped the ball at her feet. Anna laughed and hugged him.",
].join(" ");

/** Greedy output of the single-process engine with the codec applied as positions are written (its own window). */
function singleProcess(codec: string, promptIds: number[], residualTokens?: number): number[] {
  const { model } = referenceModel();
  const engine = new LlamaEngine(model, {
    blockSize: BLOCK_SIZE,
    capacityBlocks: 20,
    kvTransform: codecWriteTransform(codec, model.config, residualTokens === undefined ? undefined : { residualTokens }),
  });
  engine.openSequence("ref");
  return greedyFrom(engine, "ref", engine.prefill("ref", promptIds), MAX_TOKENS);
}

/**
 * The same engine reusing a stored prefix: a first sequence computes the prompt and exports the
 * blocks out of its window in the codec; a second imports `reusedBlocks` of them and computes the
 * rest. The imported blocks are quantized, so the second sequence's first positions attend to
 * them coded where a cold one would see the last R of them at full precision.
 */
function singleProcessReused(codec: string, promptIds: number[], reusedBlocks: number): number[] {
  const { model } = referenceModel();
  const engine = new LlamaEngine(model, { blockSize: BLOCK_SIZE, capacityBlocks: 40 });
  const hashes = Array.from({ length: Math.floor(promptIds.length / BLOCK_SIZE) }, (_, i) =>
    Uint8Array.from({ length: 16 }, (_, j) => (j === 0 ? i + 1 : 7)),
  );
  // the services take these blocks from the kvstore (a windowed sequence enters nothing in the
  // device cache): kivi-encoded from the first sequence's pool, as the prefill worker wrote them
  engine.openSequence("first");
  engine.setResidualCodec("first", codec);
  engine.prefill("first", promptIds);
  const stored = engine.exportBlocks("first", 0, reusedBlocks, codec, hashes.slice(0, reusedBlocks));
  engine.closeSequence("first");
  engine.openSequence("ref");
  engine.setResidualCodec("ref", codec);
  engine.importBlocks("ref", stored);
  return greedyFrom(engine, "ref", engine.prefill("ref", promptIds.slice(reusedBlocks * BLOCK_SIZE)), MAX_TOKENS);
}

describe("KIVI residual window end to end (block size 32)", () => {
  let stack: Stack;
  let client: KvTierServiceClient;
  const codec = resolveCodecId("kivi2");
  const promptIds = referenceModel().tokenizer.encode(PROMPT, { bos: true });
  beforeAll(async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1, blockSize: BLOCK_SIZE });
    client = routerClient(stack.routerAddress);
  });
  afterAll(async () => {
    client?.close();
    await stack?.stop();
  });

  it("generate --codec kivi2 equals the single-process engine with the window; the bytes are kivi2 blocks plus the window at fp32", async () => {
    const window = getCodec(codec).residualTokens ?? 0;
    expect(window).toBe(128);
    expect(promptIds.length).toBeGreaterThanOrEqual(300);
    const want = singleProcess(codec, promptIds);
    // the window matters here: without it the single-process engine says something else
    expect(singleProcess(codec, promptIds, 0)).not.toEqual(want);

    const r = await generate(client, request(PROMPT, MAX_TOKENS, { codec: "kivi2" }), "key-alpha");
    expect(r.usage.disaggregated).toBe(true);
    expect(r.usage.codec).toBe(codec);
    expect(r.usage.cachedTokens).toBe(0);
    expect(r.usage.promptTokens).toBe(promptIds.length);
    expect(r.tokens).toEqual(want);

    const n = promptIds.length;
    const full = Math.floor(n / BLOCK_SIZE);
    const firstWindowBlock = Math.floor((n - window) / BLOCK_SIZE);
    const tail = n - full * BLOCK_SIZE;
    const expected =
      firstWindowBlock * blockBytes(codec, BLOCK_SIZE) +
      (full - firstWindowBlock) * blockBytes(WINDOW_CODEC, BLOCK_SIZE) +
      (tail > 0 ? blockBytes(WINDOW_CODEC, tail) : 0);
    expect(r.usage.transferredBytes).toBe(expected);
    // the stored blocks stay kivi2: >= 4.5x smaller than fp16
    expect(blockBytes("fp16", BLOCK_SIZE) / blockBytes(codec, BLOCK_SIZE)).toBeGreaterThanOrEqual(4.5);
  });

  it("a second request for the same prompt reuses the stored blocks before the window, as the single-process engine reusing them does", async () => {
    const window = getCodec(codec).residualTokens ?? 0;
    const r = await generate(client, request(PROMPT, MAX_TOKENS, { codec: "kivi2" }), "key-alpha");
    const firstWindowBlock = Math.floor((promptIds.length - window) / BLOCK_SIZE);
    expect(r.usage.cachedTokens).toBe(firstWindowBlock * BLOCK_SIZE); // never a block inside the window
    expect(r.tokens).toEqual(singleProcessReused(codec, promptIds, firstWindowBlock));
  });
});
