// The ready line of the service contract, and what is not one.
import { describe, expect, it } from "vitest";
import { parseReadyLine } from "../src/ready-line.js";

describe("parseReadyLine", () => {
  it("reads the contract's fields and keeps the whole object", () => {
    const line = '{"event":"ready","service":"decode","id":"decode-1","port":40001,"metricsPort":40002,"blockSize":16}';
    expect(parseReadyLine(line)).toEqual({
      fields: { event: "ready", service: "decode", id: "decode-1", port: 40001, metricsPort: 40002, blockSize: 16 },
      service: "decode",
      id: "decode-1",
      port: 40001,
      metricsPort: 40002,
      host: undefined,
    });
  });

  it("leaves out ports that are not ports (prefill has none)", () => {
    const ready = parseReadyLine('{"event":"ready","service":"prefill","id":"p","port":0,"metricsPort":"x"}');
    expect(ready?.port).toBeUndefined();
    expect(ready?.metricsPort).toBeUndefined();
  });

  it.each(["", "starting", "{not json", '{"event":"log"}', "[1,2]", '"ready"', "null"])("ignores %j", (line) => {
    expect(parseReadyLine(line)).toBeUndefined();
  });
});
