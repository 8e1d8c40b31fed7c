// Codecs end to end through router, prefill, kvstore and decode as separate processes: the KV bytes
// a request moves are what its codec implies (full blocks plus the partial tail block, headers and
// scales included), aliases resolve to codec ids ("fp8" to the per-token-head scaled fp8), fp16
// keeps greedy output close to fp32, KIVI runs on a block-size-32 deployment and is refused on a
// block-size-16 one. KIVI's residual window travels at fp32 beside the blocks (kivi-window.test.ts).
import { status, type ServiceError } from "@grpc/grpc-js";
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { KNOWN_CODECS, getCodec, resolveCodecId } from "@kvtier/tensor";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { blockBytes } from "./reference.js";
import { testStack } from "./stack.js";

/** Transferred bytes may differ from the codec's arithmetic by at most this fraction. */
const BYTES_TOLERANCE = 0.01;
/** Greedy tokens that must agree between fp32 and fp16 KV. */
const SAME_FIRST_TOKENS = 12;

const PROMPTS = {
  fp32: "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day she saw a big red ball under a tree, and she ran to get it",
  fp16: "Once upon a time, there was a boy named Tom who had a small brown dog. Every morning they walked to the river and looked at the fish. One day the dog jumped into the water",
  fp8: "Once upon a time, a girl named Mia had a yellow kite. She flew it on the hill behind her house every windy day. One afternoon the string broke and the kite flew far away",
  int8: "Once upon a time, a little bird lived in a tall tree near a farm. The bird liked to sing songs to the cows and the pigs. One morning it saw a cat sitting under the tree",
  compare:
    "Once upon a time, there was a small fox who lived in a hole under a big rock. The fox was very hungry, so she went out to look for food in the green field",
  kivi2:
    "Once upon a time, there was a kind old man who made toys for the children in his town. He made trains and dolls and little wooden boats. One winter night, the snow fell very hard",
};

/**
 * What a disaggregated request with a cold decode pool fetches: every full block and the tail; for
 * a codec with a residual window (KIVI), the blocks before the window in the codec and the window's
 * blocks (from the first one not wholly out of it) at fp32.
 */
function expectedTransfer(codecName: string, promptTokens: number, blockSize: number): number {
  const full = Math.floor(promptTokens / blockSize);
  const tail = promptTokens - full * blockSize;
  const window = getCodec(resolveCodecId(codecName)).residualTokens ?? 0;
  const coded = window > 0 ? Math.min(full, Math.floor(Math.max(0, promptTokens - window) / blockSize)) : full;
  const rest = window > 0 ? "fp32" : codecName;
  return coded * blockBytes(codecName, blockSize) + (full - coded) * blockBytes(rest, blockSize) + (tail > 0 ? blockBytes(rest, tail) : 0);
}

function expectTransfer(
  codec: string,
  usage: { transferredBytes: number; promptTokens: number; cachedTokens: number },
  blockSize: number,
): void {
  expect(usage.cachedTokens).toBe(0); // a fresh prompt: nothing reused, so the hand-off moves it all
  const want = expectedTransfer(codec, usage.promptTokens, blockSize);
  expect(Math.abs(usage.transferredBytes - want)).toBeLessThanOrEqual(want * BYTES_TOLERANCE);
}

describe("codecs end to end (block size 16)", () => {
  let stack: Stack;
  let client: KvTierServiceClient;
  beforeAll(async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1 });
    client = routerClient(stack.routerAddress);
  });
  afterAll(async () => {
    client?.close();
    await stack?.stop();
  });

  for (const codec of ["fp32", "fp16", "int8", "fp8"] as const) {
    it(`${codec}: the hand-off moves what the codec implies`, async () => {
      const r = await generate(client, request(PROMPTS[codec], 8, { codec }), "key-alpha");
      expect(r.usage.disaggregated).toBe(true);
      expect(r.usage.codec).toBe(resolveCodecId(codec));
      expectTransfer(codec, r.usage, 16);
    });
  }

  it("fp16 KV keeps greedy output close to fp32 (same first tokens), at half the bytes", async () => {
    // two tenants: nothing is shared between them, so each request moves its own blocks
    const a = await generate(client, request(PROMPTS.compare, 24, { codec: "fp32" }), "key-alpha");
    const b = await generate(client, request(PROMPTS.compare, 24, { codec: "fp16" }), "key-beta");
    expect(b.tokens.slice(0, SAME_FIRST_TOKENS)).toEqual(a.tokens.slice(0, SAME_FIRST_TOKENS));
    expectTransfer("fp16", b.usage, 16);
    expect(b.usage.transferredBytes / a.usage.transferredBytes).toBeLessThan(0.52);
  });

  it("refuses KIVI on a block size below its 32-token groups, naming the field", async () => {
    const err = await generate(client, request(PROMPTS.kivi2, 4, { codec: "kivi2" }), "key-alpha").then(
      () => {
        throw new Error("expected INVALID_ARGUMENT");
      },
      (e: ServiceError) => e,
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/codec/);
    expect(err.details).toMatch(/block_size >= 32/);
  });
});

describe("KIVI end to end (block size 32)", () => {
  let stack: Stack;
  let client: KvTierServiceClient;
  beforeAll(async () => {
    stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1, blockSize: 32 });
    client = routerClient(stack.routerAddress);
  });
  afterAll(async () => {
    client?.close();
    await stack?.stop();
  });

  it("every registered codec round-trips through the store and the workers with its exact block sizes", async () => {
    for (const codec of KNOWN_CODECS) {
      // a distinct first block per codec: nothing is shared between these requests
      const r = await generate(client, request(`${codec} story. ${PROMPTS.compare}`, 4, { codec }), "key-beta");
      expect(r.usage.codec).toBe(codec);
      expect(r.tokens.length).toBeGreaterThan(0);
      expectTransfer(codec, r.usage, 32);
    }
  });

  it("kivi2: the hand-off moves what the codec implies, >= 4.5x less per full block than fp16", async () => {
    const r = await generate(client, request(PROMPTS.kivi2, 16, { codec: "kivi2" }), "key-alpha");
    expect(r.usage.codec).toBe("kivi2-g32-f16");
    expect(r.tokens.length).toBeGreaterThan(0);
    expectTransfer("kivi2", r.usage, 32);
    expect(blockBytes("fp16", 32) / blockBytes("kivi2", 32)).toBeGreaterThanOrEqual(4.5);
  });
});
