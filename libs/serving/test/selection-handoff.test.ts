// The SelectionHandoff wire form: positions and H2O scores round-trip exactly, malformed fields
// are refused naming them, and selection keys differ per attempt.
import { describe, expect, it } from "vitest";
import { KvtierError } from "@kvtier/core";
import { selectionFromWire, selectionKey, selectionToWire } from "../src/selection-handoff.js";

describe("selection hand-off wire form", () => {
  const meta = {
    policy: "h2o@25",
    promptTokens: 300,
    counts: [3, 2],
    positions: Int32Array.from([0, 7, 299, 5, 298]),
    scores: Float64Array.from([1.5, 0.1, 1e-300, 3, Math.PI]),
  };

  it("round-trips positions and scores exactly", () => {
    const wire = selectionToWire(meta, new Uint8Array(16).fill(7), "fp16", [new Uint8Array(10), new Uint8Array(5)]);
    expect(wire.blockCount).toBe(2);
    expect(wire.blockBytes).toBe(15);
    expect(wire.positions.length).toBe(10);
    expect(selectionFromWire(wire)).toEqual(meta);
    expect(selectionFromWire(selectionToWire({ ...meta, scores: null }, new Uint8Array(16), "fp16", [])).scores).toBeNull();
  });

  it("refuses positions or scores that do not match the counts, naming the field", () => {
    const wire = selectionToWire(meta, new Uint8Array(16), "fp16", []);
    for (const [bad, field] of [
      [{ ...wire, positions: wire.positions.subarray(2) }, "selection.positions"],
      [{ ...wire, scores: wire.scores.subarray(1) }, "selection.scores"],
      [{ ...wire, key: new Uint8Array(3) }, "selection.key"],
    ] as const) {
      let err: unknown;
      try {
        selectionFromWire(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KvtierError);
      expect((err as KvtierError).field).toBe(field);
    }
  });

  it("keys are request- and attempt-derived", () => {
    const ns = new Uint8Array(16).fill(1);
    const a = selectionKey({ namespaceHash: ns, requestId: "r", attempt: 1 });
    expect(a.length).toBe(16);
    expect(selectionKey({ namespaceHash: ns, requestId: "r", attempt: 1 })).toEqual(a);
    expect(selectionKey({ namespaceHash: ns, requestId: "r", attempt: 2 })).not.toEqual(a);
    expect(selectionKey({ namespaceHash: new Uint8Array(16), requestId: "r", attempt: 1 })).not.toEqual(a);
  });
});
