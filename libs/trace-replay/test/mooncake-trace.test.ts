// Parsing and writing Mooncake-format traces; every refusal names the line and the field.
import { describe, expect, it } from "vitest";
import { formatMooncakeTrace, parseMooncakeTrace, traceDurationS } from "../src/mooncake-trace.js";
import { ReplayError } from "../src/replay-error.js";

const line = (o: Record<string, unknown>): string => JSON.stringify(o);
const ok = { timestamp: 0, input_length: 1000, output_length: 5, hash_ids: [1, 2] };

describe("parseMooncakeTrace", () => {
  it("reads requests, skipping blank lines, and writes them back", () => {
    const text = `${line(ok)}\n\n${line({ ...ok, timestamp: 1500, hash_ids: [1, 2, 3] })}\n`;
    const trace = parseMooncakeTrace(text);
    expect(trace).toEqual([
      { timestampMs: 0, inputTokens: 1000, outputTokens: 5, blockIds: [1, 2] },
      { timestampMs: 1500, inputTokens: 1000, outputTokens: 5, blockIds: [1, 2, 3] },
    ]);
    expect(traceDurationS(trace)).toBe(1.5);
    expect(parseMooncakeTrace(formatMooncakeTrace(trace))).toEqual(trace);
  });

  it("names the line and field of a bad request", () => {
    const cases: Array<[string, RegExp]> = [
      [`${line(ok)}\nnot json`, /^line 2: not JSON/],
      [line({ ...ok, timestamp: -1 }), /^line 1: timestamp/],
      [`${line({ ...ok, timestamp: 10 })}\n${line({ ...ok, timestamp: 5 })}`, /^line 2: timestamp: 5 is before/],
      [line({ ...ok, input_length: 1.5 }), /^line 1: input_length/],
      [line({ ...ok, output_length: "x" }), /^line 1: output_length/],
      [line({ ...ok, hash_ids: "1,2" }), /^line 1: hash_ids: expected an array/],
      [line({ ...ok, hash_ids: [1, -2] }), /^line 1: hash_ids\[1\]/],
      [line({ ...ok, hash_ids: [] }), /^line 1: hash_ids: empty/],
      ["[1, 2]", /^line 1: line: expected a JSON object/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try {
        parseMooncakeTrace(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ReplayError);
      expect((err as ReplayError).code).toBe("TRACE_FORMAT");
      expect((err as ReplayError).message, text).toMatch(re);
    }
  });
});
