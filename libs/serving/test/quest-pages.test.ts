// Quest pages across the hand-off, the pure parts: the QuestPages wire form round-trips the key
// bounds exactly and refuses malformed fields naming them; page keys differ per request and
// attempt (and from the sparse selection key); only quest requests in codecs that cut exact
// pages fetch pages on demand.
import { describe, expect, it } from "vitest";
import { KvtierError } from "@kvtier/core";
import { fetchesQuestPages, questPagesFromWire, questPagesKey } from "../src/quest-pages.js";
import { selectionKey } from "../src/selection-handoff.js";

const wireOf = (bounds: Float32Array) => {
  const bytes = new Uint8Array(bounds.length * 4);
  const view = new DataView(bytes.buffer);
  bounds.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return {
    policy: "quest@25",
    promptTokens: 40,
    key: new Uint8Array(16).fill(3),
    bounds: bytes,
    pageCount: 40,
    pageBytes: 1234,
    codec: "fp16",
  };
};

describe("quest pages wire form", () => {
  it("round-trips the bounds exactly, infinities and negative zero included", () => {
    const bounds = Float32Array.from([1.5, -0, -Infinity, Infinity, Math.fround(Math.PI), -1e-38]);
    const meta = questPagesFromWire(wireOf(bounds));
    expect(meta).toEqual({ policy: "quest@25", promptTokens: 40, bounds });
    expect(Object.is(meta.bounds[1], -0)).toBe(true);
  });

  it("refuses a bad key or bounds that are not whole float32s, naming the field", () => {
    const wire = wireOf(new Float32Array(4));
    for (const [bad, field] of [
      [{ ...wire, key: new Uint8Array(15) }, "quest_pages.key"],
      [{ ...wire, bounds: wire.bounds.subarray(1) }, "quest_pages.bounds"],
    ] as const) {
      let err: unknown;
      try {
        questPagesFromWire(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KvtierError);
      expect((err as KvtierError).field).toBe(field);
    }
  });

  it("page keys are request- and attempt-derived, and not the sparse selection key", () => {
    const ns = new Uint8Array(16).fill(1);
    const a = questPagesKey({ namespaceHash: ns, requestId: "r", attempt: 1 });
    expect(a.length).toBe(16);
    expect(questPagesKey({ namespaceHash: ns, requestId: "r", attempt: 1 })).toEqual(a);
    expect(questPagesKey({ namespaceHash: ns, requestId: "r", attempt: 2 })).not.toEqual(a);
    expect(questPagesKey({ namespaceHash: ns, requestId: "s", attempt: 1 })).not.toEqual(a);
    expect(selectionKey({ namespaceHash: ns, requestId: "r", attempt: 1 })).not.toEqual(a);
  });

  it("only quest requests in codecs that keep KV heads apart fetch pages", () => {
    const model = { nKvHeads: 4, headDim: 8 };
    expect(fetchesQuestPages({ policy: "quest@25", codec: "fp16" }, model, 16)).toBe(true);
    expect(fetchesQuestPages({ policy: "quest@12.5", codec: "fp32" }, model, 16)).toBe(true);
    expect(fetchesQuestPages({ policy: "quest@25", codec: "int4" }, model, 16)).toBe(false);
    expect(fetchesQuestPages({ policy: "snapkv@25", codec: "fp16" }, model, 16)).toBe(false);
    expect(fetchesQuestPages({ policy: "none", codec: "fp16" }, model, 16)).toBe(false);
  });
});
