// Bad input on the fast port, sent by a bare socket: garbage, oversized, truncated and
// mis-declared frames get a clear ERROR frame (request id 0 and the connection closed when the
// stream cannot be parsed; the request's id and the connection kept when only the request is
// bad), and the store keeps serving another client meanwhile.
import { randomUUID } from "node:crypto";
import { KvStoreClient } from "@kvtier/platform";
import { FrameKind, encodeAttach, encodeGetRun, encodePutRun, frameParts, type ParsedFrame } from "@kvtier/kv-transport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawFrameClient, dataPlaneOf, errorOf } from "./data-plane-support.js";
import { hashOf, makeBlock } from "../../../libs/kv-tiers/test/support/blocks.js";
import { sample, scrapeMetrics, startKvStore, type KvStoreProcess } from "./support/kvstore-process.js";

const NS = `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;
let store: KvStoreProcess;
let fastPort: number;
let healthy: KvStoreClient;
const stored = [makeBlock({ seed: 1 }), makeBlock({ seed: 2 })];

beforeAll(async () => {
  store = await startKvStore({ KVTIER_NAMESPACE: NS, KVTIER_KVSTORE_ID: "kvs-frames" });
  fastPort = (await dataPlaneOf(store)).fastPort;
  healthy = new KvStoreClient(store.endpoint, { serviceToken: store.token, dataPaths: ["tcp"] });
  await healthy.putRun(stored);
});
afterAll(async () => {
  await healthy?.close();
  if (store) expect(await store.stop()).toBe(0);
});

/** The other client still gets its run, verified, while (or after) a bad one was refused. */
async function stillServing(): Promise<void> {
  const run = await healthy.getRun(stored.map(hashOf), "fp32");
  expect([run.blocks.length, run.corrupt]).toEqual([2, 0]);
}

/** A stream-level refusal: one ERROR frame with request id 0, then the store closes the connection. */
async function streamRefusal(c: RawFrameClient): Promise<{ reason: string; field: string; message: string }> {
  const f: ParsedFrame = await c.frame(0);
  expect([f.header.kind, f.header.requestId]).toEqual([FrameKind.ERROR, 0]);
  await c.closed;
  const e = errorOf(f);
  expect(e.code).toBe("INVALID_ARGUMENT");
  return e;
}

const getMeta = (codec = "fp32"): Uint8Array => encodeGetRun({ codec, hashes: stored.map(hashOf), maxBytes: 0 });

describe("fast port, bad input", () => {
  it("garbage gets bad_magic and the connection closes; others are served", async () => {
    const c = await RawFrameClient.open(fastPort, store.token);
    c.send(Buffer.from("GET /metrics HTTP/1.1\r\nHost: kvstore\r\nAccept: */*\r\n\r\n"));
    expect((await streamRefusal(c)).reason).toBe("bad_magic");
    await stillServing();
  });

  it("an oversized declaration is refused before any of it is read", async () => {
    const c = await RawFrameClient.open(fastPort, store.token);
    const meta = encodePutRun({ codec: "fp32", hashes: [hashOf(stored[0])], sizes: [stored[0].length], durable: false });
    const [head] = frameParts({ kind: FrameKind.PUT_RUN, flags: 0, requestId: 1, count: 1, payloadBytes: 1 }, meta);
    const view = Buffer.from(head.buffer, head.byteOffset, head.length);
    view.writeUInt32LE(0xfff00000, 20); // ~4 GiB of payload (the header CRC is then wrong too, but the size is checked first)
    c.send(view);
    const e = await streamRefusal(c);
    expect([e.reason, e.field]).toEqual(["oversized", "frame.payload_bytes"]);
    await stillServing();
  });

  it("a stream that ends inside a frame gets truncated", async () => {
    const c = await RawFrameClient.open(fastPort, store.token);
    const b = makeBlock({ seed: 9 });
    const meta = encodePutRun({ codec: "fp32", hashes: [hashOf(b)], sizes: [b.length], durable: false });
    c.sendFrame({ kind: FrameKind.PUT_RUN, flags: 0, requestId: 3, count: 1, payloadBytes: b.length }, meta, [b.subarray(0, 100)]);
    c.end();
    expect((await streamRefusal(c)).reason).toBe("truncated");
    expect(await healthy.lookup([hashOf(b)], "fp32")).toBe(0);
    await stillServing();
  });

  it("a flipped header byte fails the header checksum", async () => {
    const c = await RawFrameClient.open(fastPort, store.token);
    const parts = frameParts({ kind: FrameKind.GET_RUN, flags: 0, requestId: 4, count: 2, payloadBytes: 0 }, getMeta());
    const bytes = Buffer.concat(parts);
    bytes[9] ^= 1; // the request id
    c.send(bytes);
    expect((await streamRefusal(c)).reason).toBe("header_checksum");
    await stillServing();
  });

  it("a bad request in a good frame gets an ERROR with its id, and the same connection goes on", async () => {
    const c = await RawFrameClient.open(fastPort, store.token);
    const b = makeBlock({ seed: 10 });
    // Sizes adding up to more than the payload declared: refused, its payload skipped.
    const lying = encodePutRun({ codec: "fp32", hashes: [hashOf(b)], sizes: [b.length + 8], durable: false });
    c.sendFrame({ kind: FrameKind.PUT_RUN, flags: 0, requestId: 11, count: 1, payloadBytes: b.length }, lying, [b]);
    c.sendFrame({ kind: FrameKind.GET_RUN, flags: 0, requestId: 12, count: 2, payloadBytes: 0 }, getMeta("no-such-codec"));
    c.sendFrame(
      { kind: FrameKind.PUT_RUN_SHM, flags: 0, requestId: 13, count: 1, payloadBytes: 0 },
      encodePutRun({ codec: "fp32", hashes: [hashOf(b)], sizes: [b.length], durable: false, windowOffset: 0 }),
    );
    c.sendFrame(
      { kind: FrameKind.SHM_ATTACH, flags: 0, requestId: 14, count: 0, payloadBytes: 0 },
      encodeAttach({ name: "../../etc/passwd", arenaBytes: 4096 }),
    );
    c.sendFrame({ kind: FrameKind.GET_RESULT, flags: 0, requestId: 15, count: 0, payloadBytes: 0 }, new Uint8Array(0));
    c.sendFrame({ kind: FrameKind.GET_RUN, flags: 0, requestId: 16, count: 2, payloadBytes: 0 }, getMeta());
    const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => c.frame(i)));
    const byId = new Map(answers.map((f) => [f.header.requestId, f]));
    const err = (id: number): { reason: string; field: string } => {
      const f = byId.get(id)!;
      expect(f.header.kind).toBe(FrameKind.ERROR);
      return errorOf(f);
    };
    expect(err(11)).toMatchObject({ reason: "mismatch", field: "frame.payload_bytes" });
    expect(err(12)).toMatchObject({ field: "codec" });
    expect(err(13)).toMatchObject({ reason: "protocol" });
    expect(err(14)).toMatchObject({ reason: "invalid", field: "arena.name" });
    expect(err(15)).toMatchObject({ reason: "unknown_kind" });
    const ok = byId.get(16)!;
    expect([ok.header.kind, ok.header.count]).toEqual([FrameKind.GET_RESULT, 2]);
    expect(Buffer.from(ok.payload[0]).equals(Buffer.concat(stored))).toBe(true);
    c.destroy();
    const page = await scrapeMetrics(store);
    expect(sample(page, "kvtier_kvstore_data_errors_total", { path: "tcp", reason: "bad_magic" })).toBe(1);
    expect(sample(page, "kvtier_kvstore_data_errors_total", { path: "shm", reason: "protocol" })).toBe(1);
    await stillServing();
  });
});
