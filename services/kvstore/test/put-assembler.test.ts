// PutAssembler and parsePutHeader: the limits a put must respect before its block is verified.
import { MAX_CHUNK_BYTES } from "@kvtier/kv-transport";
import { AckLevel, PutHeader } from "@kvtier/proto";
import { MAX_KV_BLOCK_BYTES } from "@kvtier/tensor";
import { describe, expect, it } from "vitest";
import { blockKey } from "@kvtier/kv-tiers";
import { PutAssembler } from "../src/put-assembler.js";
import { PutRefusedError } from "../src/put-refusal.js";
import { parseBlockKeys, parsePutHeader, MAX_HASHES_PER_REQUEST } from "../src/wire-requests.js";

const hash = new Uint8Array(16).fill(7);

function refusal(fn: () => unknown): { reason: string; field: string | undefined; code: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PutRefusedError);
    const e = err as PutRefusedError;
    return { reason: e.reason, field: e.field, code: e.code };
  }
  throw new Error("expected a refusal");
}

describe("PutAssembler", () => {
  const intent = { key: blockKey(hash, "fp32"), totalBytes: 10, ack: "memory" as const };

  it("reassembles chunks in order", () => {
    const a = new PutAssembler(intent);
    a.append(Uint8Array.from([0, 1, 2, 3]));
    a.append(new Uint8Array(0));
    a.append(Uint8Array.from([4, 5, 6, 7, 8, 9]));
    expect([...a.finish()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("refuses oversized chunks, overruns and short streams, naming the chunk", () => {
    expect(
      refusal(() => new PutAssembler({ ...intent, totalBytes: MAX_CHUNK_BYTES + 1 }).append(new Uint8Array(MAX_CHUNK_BYTES + 1))),
    ).toMatchObject({ reason: "oversized", field: "chunk" });
    expect(refusal(() => new PutAssembler(intent).append(new Uint8Array(11)))).toMatchObject({ reason: "overrun", field: "chunk" });
    const short = new PutAssembler(intent);
    short.append(new Uint8Array(9));
    expect(refusal(() => short.finish())).toMatchObject({ reason: "truncated", field: "chunk", code: "INVALID_ARGUMENT" });
  });
});

describe("parsePutHeader / parseBlockKeys", () => {
  const header = PutHeader.fromPartial({ blockHash: hash, codec: "fp32", totalBytes: 4208, ack: AckLevel.ACK_LEVEL_UNSPECIFIED });

  it("parses a good header; unspecified ack means memory", () => {
    expect(parsePutHeader(header)).toMatchObject({ totalBytes: 4208, ack: "memory", key: { codec: "fp32" } });
    expect(parsePutHeader({ ...header, ack: AckLevel.ACK_LEVEL_DURABLE }).ack).toBe("durable");
    expect(parsePutHeader(header).requestScoped).toBe(false);
    expect(parsePutHeader({ ...header, requestScoped: true }).requestScoped).toBe(true);
  });

  it("names the field of every bad header", () => {
    expect(refusal(() => parsePutHeader({ ...header, blockHash: new Uint8Array(15) }))).toMatchObject({
      field: "header.block_hash",
      reason: "invalid",
    });
    expect(refusal(() => parsePutHeader({ ...header, codec: "" }))).toMatchObject({ field: "header.codec", reason: "invalid" });
    expect(refusal(() => parsePutHeader({ ...header, codec: "q3" }))).toMatchObject({ field: "header.codec", reason: "unknown_codec" });
    expect(refusal(() => parsePutHeader({ ...header, totalBytes: MAX_KV_BLOCK_BYTES + 1 }))).toMatchObject({
      field: "header.total_bytes",
      reason: "oversized",
    });
    expect(refusal(() => parsePutHeader({ ...header, totalBytes: 0 }))).toMatchObject({ field: "header.total_bytes", reason: "invalid" });
    expect(refusal(() => parsePutHeader({ ...header, ack: 7 as AckLevel }))).toMatchObject({ field: "header.ack", reason: "invalid" });
  });

  it("checks hash lists", () => {
    expect(parseBlockKeys([hash, hash], "fp16").map((k) => k.id)).toEqual([`${"07".repeat(16)}/fp16`, `${"07".repeat(16)}/fp16`]);
    expect(() => parseBlockKeys([hash, new Uint8Array(3)], "fp32")).toThrow(/block_hashes\[1\]/);
    expect(() => parseBlockKeys([hash], "")).toThrow(/codec/);
    expect(() => parseBlockKeys(new Array<Uint8Array>(MAX_HASHES_PER_REQUEST + 1).fill(hash), "fp32")).toThrow(/block_hashes/);
  });
});
