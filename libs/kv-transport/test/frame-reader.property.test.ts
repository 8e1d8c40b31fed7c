// FrameReader (incremental, payload into receiver buffers, optional direct reads) against the
// reference parser that sees the whole stream at once, over random frames cut at random points,
// and the reader's refusals of broken streams.
import { describe, expect, it } from "vitest";
import { FrameKind, FRAME_HEADER_BYTES, FRAME_VERSION, type FrameHeader } from "../src/frame-format.js";
import { FrameReader, parseFramesReference, type ParsedFrame } from "../src/frame-reader.js";
import { frameParts } from "../src/frame-writer.js";
import { TransportError } from "../src/transport-error.js";

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r: () => number, n: number): number => Math.floor(r() * n);
const bytes = (r: () => number, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));

interface Made {
  header: Omit<FrameHeader, "metaBytes">;
  meta: Uint8Array;
  /** How the receiver splits the payload (segment lengths). */
  segments: number[];
  payload: Uint8Array;
}

function randomFrame(r: () => number, id: number): Made {
  const metaLen = int(r, 4) === 0 ? 0 : int(r, 300);
  const payLen = int(r, 3) === 0 ? 0 : int(r, 3) === 0 ? 40_000 + int(r, 100_000) : int(r, 5000);
  const segments: number[] = [];
  for (let left = payLen; left > 0;) {
    const s = Math.min(left, 1 + int(r, payLen));
    segments.push(s);
    left -= s;
  }
  return {
    header: { kind: FrameKind.PUT_RUN, flags: int(r, 4), requestId: id, count: segments.length, payloadBytes: payLen },
    meta: bytes(r, metaLen),
    segments,
    payload: bytes(r, payLen),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Feed `stream` in random pieces, sometimes letting a "socket" read straight into the payload buffer. */
function runReader(stream: Uint8Array, frames: Made[], r: () => number, direct: boolean): ParsedFrame[] {
  const out: ParsedFrame[] = [];
  let next = 0;
  const reader = new FrameReader(
    () => frames[next++].segments.map((n) => new Uint8Array(n)),
    (f) => out.push(f),
  );
  let at = 0;
  while (at < stream.length) {
    const target = direct ? reader.directTarget() : undefined;
    const n = Math.min(stream.length - at, 1 + int(r, int(r, 5) === 0 ? 70_000 : 300));
    if (target) {
      const m = Math.min(n, target.length);
      target.set(stream.subarray(at, at + m));
      reader.advanceDirect(m);
      at += m;
    } else {
      reader.feed(stream.subarray(at, at + n));
      at += n;
    }
  }
  expect(reader.midFrame).toBe(false);
  return out;
}

describe("FrameReader", () => {
  for (const direct of [false, true]) {
    it(`matches the reference parser on random frames and random splits (${direct ? "with" : "without"} direct reads)`, () => {
      for (let seed = 1; seed <= 40; seed++) {
        const r = prng(seed);
        const frames = Array.from({ length: 1 + int(r, 8) }, (_v, i) => randomFrame(r, i + 1));
        const stream = concat(frames.flatMap((f) => frameParts(f.header, f.meta, f.payload.length ? [f.payload] : [])));
        const want = parseFramesReference(stream);
        const got = runReader(stream, frames, r, direct);
        expect(got.length).toBe(want.length);
        got.forEach((g, i) => {
          expect(g.header).toEqual(want[i].header);
          expect(Buffer.from(g.meta).equals(want[i].meta)).toBe(true);
          expect(Buffer.from(concat(g.payload)).equals(want[i].payload)).toBe(true);
          expect(g.payload.map((p) => p.length)).toEqual(frames[i].segments);
        });
      }
    });
  }

  it("skips the payload of a frame the sink refuses and stays in step", () => {
    const r = prng(7);
    const frames = [randomFrame(r, 1), randomFrame(r, 2), randomFrame(r, 3)];
    frames[1].header.payloadBytes = 5000;
    frames[1].payload = bytes(r, 5000);
    const stream = concat(frames.flatMap((f) => frameParts(f.header, f.meta, f.payload.length ? [f.payload] : [])));
    const got: ParsedFrame[] = [];
    let i = 0;
    const reader = new FrameReader(
      (h) => (h.requestId === 2 ? (i++, null) : frames[i++].segments.map((n) => new Uint8Array(n))),
      (f) => got.push(f),
    );
    for (let at = 0; at < stream.length; at += 777) reader.feed(stream.subarray(at, at + 777));
    expect(got.map((f) => [f.header.requestId, f.discarded])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(Buffer.from(concat(got[2].payload)).equals(frames[2].payload)).toBe(true);
  });

  const refusal = (stream: Uint8Array): TransportError => {
    const reader = new FrameReader(
      (h) => (h.payloadBytes ? [new Uint8Array(h.payloadBytes)] : []),
      () => undefined,
    );
    try {
      reader.feed(stream);
    } catch (err) {
      expect(err).toBeInstanceOf(TransportError);
      expect(() => reader.feed(new Uint8Array(1))).toThrow(TransportError);
      return err as TransportError;
    }
    throw new Error("the reader accepted a broken stream");
  };
  const good = (): Uint8Array =>
    concat(frameParts({ kind: FrameKind.GET_RUN, flags: 0, requestId: 9, count: 1, payloadBytes: 0 }, new Uint8Array(40).fill(3)));

  it("refuses garbage, bad versions, unknown kinds, oversized declarations and a flipped header or metadata byte", () => {
    expect(refusal(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")).reason).toBe("bad_magic");
    const version = good();
    version[4] = FRAME_VERSION + 1;
    expect(refusal(version).reason).toBe("bad_version");
    const kind = good();
    kind[5] = 77;
    expect(refusal(kind).reason).toBe("unknown_kind");
    const oversized = good();
    Buffer.from(oversized.buffer, oversized.byteOffset, oversized.length).writeUInt32LE(0xffffffff, 20);
    expect(refusal(oversized)).toMatchObject({ reason: "oversized", field: "frame.payload_bytes" });
    const bigMeta = good();
    Buffer.from(bigMeta.buffer, bigMeta.byteOffset, bigMeta.length).writeUInt32LE(64 * 1024 * 1024, 16);
    expect(refusal(bigMeta)).toMatchObject({ reason: "oversized", field: "frame.meta_bytes" });
    for (const at of [9, 13, FRAME_HEADER_BYTES + 5]) {
      const flipped = good();
      flipped[at] ^= 0x10;
      expect(refusal(flipped).reason).toBe("header_checksum");
    }
  });

  it("knows when a stream stops inside a frame", () => {
    const reader = new FrameReader(
      () => [],
      () => undefined,
    );
    const g = good();
    reader.feed(g.subarray(0, 10));
    expect(reader.midFrame).toBe(true);
    reader.feed(g.subarray(10));
    expect(reader.midFrame).toBe(false);
    expect(() => parseFramesReference(g.subarray(0, g.length - 1))).toThrow(/ends inside a frame/);
  });
});
