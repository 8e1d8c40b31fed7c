// Every frame kind's metadata round-trips, and decoding refuses what a frame itself can show is
// wrong (sizes not adding up, impossible sizes, trailing bytes, wrong hash or codec lengths).
import { describe, expect, it } from "vitest";
import { FrameFlag, FrameKind, type FrameHeader } from "../src/frame-format.js";
import * as m from "../src/frame-messages.js";
import { groupRun, splitBlocks } from "../src/run-split.js";
import { TransportError } from "../src/transport-error.js";

const hash = (b: number): Uint8Array => new Uint8Array(16).fill(b);
const header = (kind: FrameHeader["kind"], count: number, metaBytes: number, payloadBytes = 0, flags = 0): FrameHeader => ({
  kind,
  flags,
  requestId: 5,
  count,
  metaBytes,
  payloadBytes,
});

describe("frame metadata", () => {
  it("round-trips puts, gets, results, errors and attaches", () => {
    const put: m.PutRunMeta = { codec: "fp16", hashes: [hash(1), hash(2)], sizes: [200, 300], durable: true };
    const pm = m.encodePutRun(put);
    expect(m.decodePutRun(header(FrameKind.PUT_RUN, 2, pm.length, 500, FrameFlag.ACK_DURABLE), pm, false)).toEqual({
      ...put,
      requestScoped: false,
      windowOffset: undefined,
    });
    // the request-scoped flag travels in the frame's flags, beside ack=durable
    expect(m.decodePutRun(header(FrameKind.PUT_RUN, 2, pm.length, 500, FrameFlag.REQUEST_SCOPED), pm, false)).toEqual({
      ...put,
      durable: false,
      requestScoped: true,
      windowOffset: undefined,
    });
    const shmPut = { ...put, durable: false, requestScoped: false, windowOffset: 2 ** 40 + 3 };
    const spm = m.encodePutRun(shmPut);
    expect(m.decodePutRun(header(FrameKind.PUT_RUN_SHM, 2, spm.length), spm, true)).toEqual(shmPut);
    const get: m.GetRunMeta = { codec: "int8", hashes: [hash(3)], maxBytes: 1234, window: { offset: 64, bytes: 1 << 20 } };
    const gm = m.encodeGetRun(get);
    expect(m.decodeGetRun(header(FrameKind.GET_RUN_SHM, 1, gm.length), gm, true)).toEqual(get);
    const res: m.GetResultMeta = { tiers: ["host", "ssd"], sizes: [150, 250], limited: true };
    const rm = m.encodeGetResult(res);
    expect(m.decodeGetResult(header(FrameKind.GET_RESULT, 2, rm.length, 400, FrameFlag.LIMITED), rm, false)).toEqual(res);
    const outcomes: m.BlockPutOutcome[] = [
      { outcome: "created", tier: "host" },
      {
        outcome: "refused",
        error: { code: "INVALID_ARGUMENT", reason: "checksum", field: "block.checksum", message: "bad crc", retryAfterMs: 0 },
      },
      { outcome: "existing", tier: "ssd" },
    ];
    const om = m.encodePutResult(outcomes);
    expect(m.decodePutResult(header(FrameKind.PUT_RESULT, 3, om.length), om)).toEqual(outcomes);
    const err: m.ErrorBody = {
      code: "RESOURCE_EXHAUSTED",
      reason: "busy",
      field: "frame.payload_bytes",
      message: "retry ünïcode",
      retryAfterMs: 50,
    };
    expect(m.decodeError(m.encodeError(err))).toEqual(err);
    expect(m.decodeAttach(m.encodeAttach({ name: "kvtier-ns-1-ab", arenaBytes: 3 << 28 }))).toEqual({
      name: "kvtier-ns-1-ab",
      arenaBytes: 3 << 28,
    });
  });

  const refused = (f: () => unknown): TransportError => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(TransportError);
      return err as TransportError;
    }
    throw new Error("accepted");
  };

  it("refuses mis-declared and impossible values, naming the field", () => {
    const pm = m.encodePutRun({ codec: "fp16", hashes: [hash(1), hash(2)], sizes: [200, 300], durable: false });
    expect(refused(() => m.decodePutRun(header(FrameKind.PUT_RUN, 2, pm.length, 499), pm, false))).toMatchObject({
      reason: "mismatch",
      field: "frame.payload_bytes",
    });
    expect(refused(() => m.decodePutRun(header(FrameKind.PUT_RUN, 3, pm.length, 500), pm, false)).field).toMatch(/block_hashes\[2\]|sizes/);
    expect(refused(() => m.decodePutRun(header(FrameKind.PUT_RUN, 1, pm.length, 200), pm, false))).toMatchObject({
      reason: "malformed",
      field: "frame.meta_bytes",
    });
    const tiny = m.encodePutRun({ codec: "fp16", hashes: [hash(1)], sizes: [10], durable: false });
    expect(refused(() => m.decodePutRun(header(FrameKind.PUT_RUN, 1, tiny.length, 10), tiny, false))).toMatchObject({
      reason: "invalid",
      field: "sizes[0]",
    });
    const huge = m.encodePutRun({ codec: "fp16", hashes: [hash(1)], sizes: [200 * 1024 * 1024], durable: false });
    expect(refused(() => m.decodePutRun(header(FrameKind.PUT_RUN, 1, huge.length, 200 * 1024 * 1024), huge, false))).toMatchObject({
      reason: "oversized",
      field: "sizes[0]",
    });
    const noCodec = m.encodeGetRun({ codec: "", hashes: [hash(1)], maxBytes: 0 });
    expect(refused(() => m.decodeGetRun(header(FrameKind.GET_RUN, 1, noCodec.length), noCodec, false))).toMatchObject({ field: "codec" });
    const gm = m.encodeGetRun({ codec: "fp32", hashes: [hash(1)], maxBytes: 0 });
    expect(refused(() => m.decodeGetRun(header(FrameKind.GET_RUN, 1, gm.length, 10), gm, false))).toMatchObject({ reason: "mismatch" });
  });
});

describe("run splitting", () => {
  it("groups consecutive blocks under a byte and a count limit, a big block alone", () => {
    expect(groupRun([5, 5, 5, 5], 10)).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(groupRun([3, 20, 3], 10)).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(groupRun([1, 1, 1], 100, 2)).toEqual([
      [0, 2],
      [2, 3],
    ]);
    expect(groupRun([], 10)).toEqual([]);
    const buf = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(splitBlocks(buf, [2, 4]).map((b) => [...b])).toEqual([
      [1, 2],
      [3, 4, 5, 6],
    ]);
  });
});

describe("TransportError", () => {
  it("names its field once: a local problem gets the field, a store's message that already names it is kept", () => {
    expect(new TransportError("INVALID_ARGUMENT", "invalid", "codec", "must be 1..64 bytes").message).toBe("codec: must be 1..64 bytes");
    const fromStore = new TransportError("INVALID_ARGUMENT", "oversized", "chunk", "chunk: 5 bytes exceed the chunk limit");
    expect([fromStore.message, fromStore.field]).toEqual(["chunk: 5 bytes exceed the chunk limit", "chunk"]);
    expect(new TransportError("UNAVAILABLE", "closed", "", "connection closed").message).toBe("connection closed");
  });
});
