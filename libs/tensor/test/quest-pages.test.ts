// Quest with pages fetched on demand: the same request over the dense prompt and over page
// metadata plus fetched pages gives the same logits bit for bit, fetches only part of the
// prompt, fetches a page once, never attends over a page it could not get, and works across
// the worker thread (the engine thread waits while the host fetches). The host test runs the
// compiled worker: build with `pnpm exec tsc -b libs/tensor` first.
import { describe, expect, it } from "vitest";
import { LlamaEngine } from "../src/engine.js";
import { EngineHost } from "../src/engine-host.js";
import type { QuestPageRef } from "../src/quest-page-cache.js";
import { codecSeparatesHeads, questPageIndex, type QuestPageSource, type QuestPagesExport } from "../src/quest-pages.js";
import { argmax, fakeHash, stories } from "./engine-fixtures.js";
import { checkpointPath } from "./model-dir.js";
import { longPrompt, POLICY_BS } from "./policy-fixtures.js";

const POLICY = "quest@25";
const CODEC = "fp16";
const PROMPT_TOKENS = 300; // 18 full blocks and a 12-token tail
const STEPS = 16;
const KEY = new Uint8Array(16).fill(7);

interface Handoff {
  quest: QuestPagesExport;
  dense: Uint8Array[];
  tail: Uint8Array | null;
  first: number;
}

/** The prefill side: prompt computed, dense blocks and quest pages exported, the first token. */
function prefillSide(prompt: number[]): Handoff {
  const engine = new LlamaEngine(stories().model, { blockSize: POLICY_BS, capacityBlocks: 40 });
  engine.openSequence("p");
  engine.setSelectionPolicy("p", POLICY, prompt.length);
  const logits = engine.prefill("p", prompt);
  const full = Math.floor(prompt.length / POLICY_BS);
  const dense = engine.exportBlocks(
    "p",
    0,
    full,
    CODEC,
    Array.from({ length: full }, (_, i) => fakeHash(`b${i}`)),
  );
  const tail = engine.exportTail("p", CODEC, fakeHash("tail"), engine.length("p"));
  return { quest: engine.exportQuestPages("p", CODEC, KEY), dense, tail, first: argmax(logits) };
}

/** Greedy decode of `steps` tokens from `first`; every step's logits. */
function greedy(step: (token: number) => Float32Array, first: number, steps: number): { tokens: number[]; logits: Float32Array[] } {
  const tokens = [first];
  const logits: Float32Array[] = [];
  for (let i = 0; i < steps; i++) {
    const l = step(tokens[tokens.length - 1]);
    logits.push(l);
    tokens.push(argmax(l));
  }
  return { tokens, logits };
}

/** The decode side over the dense prompt (today's path): import every block, compress. */
function denseDecode(h: Handoff): { tokens: number[]; logits: Float32Array[] } {
  const engine = new LlamaEngine(stories().model, { blockSize: POLICY_BS, capacityBlocks: 40 });
  engine.openSequence("d");
  engine.setSelectionPolicy("d", POLICY, h.quest.meta.promptTokens);
  engine.importBlocks("d", h.tail === null ? h.dense : [...h.dense, h.tail]);
  engine.compress("d");
  return greedy((token) => engine.decodeStep([{ seqId: "d", token }])[0], h.first, STEPS);
}

/** A synchronous page source over the exported pages, recording what was asked. */
function recordingSource(h: Handoff, asked: QuestPageRef[][], refuse?: (ref: QuestPageRef) => boolean): QuestPageSource {
  const { nLayers, nKvHeads } = stories().model.config;
  return (_seqId, pages) => {
    asked.push(pages);
    if (refuse && pages.some(refuse)) return { error: "evicted" };
    return { pages: pages.map((r) => h.quest.pages[questPageIndex(r, nLayers, nKvHeads)]) };
  };
}

describe("Quest pages fetched on demand", () => {
  const { model } = stories();
  const { nLayers, nKvHeads } = model.config;
  const prompt = longPrompt(PROMPT_TOKENS);
  const h = prefillSide(prompt);
  const totalPages = Math.floor(PROMPT_TOKENS / POLICY_BS) * nLayers * nKvHeads;

  it("gives the dense prompt's logits bit for bit, fetching each page once and only part of the prompt", () => {
    const dense = denseDecode(h);
    const engine = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 40 });
    const asked: QuestPageRef[][] = [];
    engine.setQuestPageSource(recordingSource(h, asked));
    engine.openSequence("o");
    engine.importQuestPages("o", h.quest.meta, h.tail);
    expect(asked).toEqual([]); // nothing is fetched before a query selects it
    const paged = greedy((token) => engine.decodeStep([{ seqId: "o", token }])[0], h.first, STEPS);
    expect(paged.tokens).toEqual(dense.tokens);
    paged.logits.forEach((l, i) => expect(l, `step ${i}`).toEqual(dense.logits[i]));
    const fetched = asked.flat().map((r) => questPageIndex(r, nLayers, nKvHeads));
    expect(new Set(fetched).size).toBe(fetched.length); // each page once
    expect(engine.questPageStatus("o")).toEqual({ fetchedPages: fetched.length, broken: null });
    // at least one step's budget (25% of every (layer, head)'s pages), far from all of them
    expect(fetched.length).toBeGreaterThanOrEqual(Math.round(totalPages / 4));
    expect(fetched.length).toBeLessThan(totalPages * 0.6);
    // and at most one fetch per layer and step
    expect(asked.length).toBeLessThanOrEqual(STEPS * nLayers);
  });

  it("leading blocks attached from the device cache are never fetched, and the answer is the same", () => {
    const dense = denseDecode(h);
    const engine = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 60 });
    // another request computed the first 6 blocks and left them in the device cache (which holds
    // only exact KV: blocks imported through fp16 would not enter it)
    engine.openSequence("other");
    engine.prefill("other", prompt.slice(0, 6 * POLICY_BS));
    engine.registerBlocks(
      "other",
      0,
      h.dense.slice(0, 6).map((_, i) => fakeHash(`b${i}`)),
    );
    engine.closeSequence("other");
    const asked: QuestPageRef[][] = [];
    engine.setQuestPageSource(recordingSource(h, asked));
    engine.openSequence("o");
    expect(
      engine.attachCached(
        "o",
        h.dense.map((_, i) => fakeHash(`b${i}`)),
      ),
    ).toBe(6);
    engine.importQuestPages("o", h.quest.meta, h.tail);
    const paged = greedy((token) => engine.decodeStep([{ seqId: "o", token }])[0], h.first, STEPS);
    expect(paged.tokens).toEqual(dense.tokens);
    expect(asked.flat().every((r) => r.block >= 6)).toBe(true);
  });

  it("a page the store no longer holds fails the request (NaN logits, status broken), never attends over missing data", () => {
    const engine = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 80 });
    const asked: QuestPageRef[][] = [];
    engine.setQuestPageSource(recordingSource(h, asked, () => true));
    engine.openSequence("o");
    engine.importQuestPages("o", h.quest.meta, h.tail);
    // a request without pages to fetch decodes in the same batch, unaffected
    engine.openSequence("plain");
    engine.importBlocks("plain", h.tail === null ? h.dense : [...h.dense, h.tail]);
    const alone = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 40 });
    alone.openSequence("plain");
    alone.importBlocks("plain", h.tail === null ? h.dense : [...h.dense, h.tail]);
    const [broken, plain] = engine.decodeStep([
      { seqId: "o", token: h.first },
      { seqId: "plain", token: h.first },
    ]);
    expect(broken.every((x) => Number.isNaN(x))).toBe(true);
    expect(plain).toEqual(alone.decodeStep([{ seqId: "plain", token: h.first }])[0]);
    expect(engine.questPageStatus("o")).toEqual({ fetchedPages: 0, broken: "evicted" });
    expect(asked.length).toBe(1); // broken: no more fetches
    expect(engine.decodeStep([{ seqId: "o", token: h.first }])[0].every((x) => Number.isNaN(x))).toBe(true);
    expect(asked.length).toBe(1);
  });

  it("bad metadata is refused naming what is wrong", () => {
    const engine = new LlamaEngine(model, { blockSize: POLICY_BS, capacityBlocks: 40 });
    engine.setQuestPageSource(() => ({ error: "unused" }));
    engine.openSequence("o");
    expect(() => engine.importQuestPages("o", { ...h.quest.meta, bounds: h.quest.meta.bounds.subarray(1) }, h.tail)).toThrow(/bounds/);
    expect(() => engine.importQuestPages("o", { ...h.quest.meta, policy: "snapkv@25" }, h.tail)).toThrow(/not quest/);
    expect(() => engine.importQuestPages("o", h.quest.meta, null)).toThrow(/tail/);
  });

  it("codecs whose groups stay within a KV head separate heads; those spanning heads do not", () => {
    const { nKvHeads: g, headDim: d } = model.config;
    for (const codec of ["fp32", "fp16", "bf16", "fp8", "int8-sym"]) expect(codecSeparatesHeads(codec, g, d, 32), codec).toBe(true);
    for (const codec of ["int4", "kivi2"]) expect(codecSeparatesHeads(codec, g, d, 32), codec).toBe(false);
  });

  it("through EngineHost: the engine thread waits while the host fetches (asynchronously), same logits", async () => {
    const dense = denseDecode(h);
    const host = await EngineHost.start({ checkpointPath: checkpointPath(), blockSize: POLICY_BS, capacityBlocks: 40 });
    try {
      let fetches = 0;
      host.setQuestPageFetcher(async (_seqId, pages) => {
        fetches++;
        await new Promise((r) => setTimeout(r, 5)); // a store round trip
        return pages.map((r) => h.quest.pages[questPageIndex(r, nLayers, nKvHeads)]);
      });
      await host.openSequence("o");
      await host.importQuestPages("o", h.quest.meta, h.tail);
      const logits: Float32Array[] = [];
      let token = h.first;
      for (let i = 0; i < STEPS; i++) {
        const l = (await host.decodeStep([{ seqId: "o", token }]))[0];
        logits.push(l);
        token = argmax(l);
      }
      logits.forEach((l, i) => expect(l, `step ${i}`).toEqual(dense.logits[i]));
      expect(fetches).toBeGreaterThan(0);
      expect((await host.questPageStatus("o"))?.broken).toBeNull();
      host.setQuestPageFetcher(() => Promise.reject(new Error("kvstore: block not found")));
      await host.openSequence("e");
      await host.importQuestPages("e", h.quest.meta, h.tail);
      const l = (await host.decodeStep([{ seqId: "e", token: h.first }]))[0];
      expect(l.every((x) => Number.isNaN(x))).toBe(true);
      expect((await host.questPageStatus("e"))?.broken).toMatch(/block not found/);
    } finally {
      await host.close();
    }
  });
});
