// The fast path's frame: a fixed 32-byte little-endian header, a metadata section (codec, hashes,
// sizes, offsets, status) and a payload of block bytes. The header carries a CRC-32 over itself
// and the metadata, so a corrupted or foreign stream is refused before any size it declares is
// trusted; block bytes carry their own CRC (verified by the receiver with verifyKvBlock).
import { crc32 } from "node:zlib";
import { MAX_KV_BLOCK_BYTES } from "@kvtier/tensor";
import { frameError } from "./transport-error.js";

/** "KVT1" read as a little-endian u32. */
const FRAME_MAGIC = 0x3154564b;
/** Wire version in byte 4; bump on any incompatible change (2: a connection starts with AUTH). */
export const FRAME_VERSION = 2;
/** Size of the fixed frame header, in bytes. */
export const FRAME_HEADER_BYTES = 32;
/** Largest metadata section, in bytes (16,384 hashes with sizes and strings fit in well under this). */
const MAX_FRAME_META_BYTES = 1024 * 1024;
/** Largest payload of one frame, in bytes (a run longer than this is sent as several requests). */
export const MAX_FRAME_PAYLOAD_BYTES = 256 * 1024 * 1024;
/** Most blocks or hashes one request may carry (same as the gRPC limit). */
export const MAX_RUN_BLOCKS = 16_384;
/** Largest block, in bytes (the block format's own limit). */
export const MAX_BLOCK_BYTES = MAX_KV_BLOCK_BYTES;

/**
 * What a frame is. Responses are their request's kind with bit 7 set. A connection's first
 * request is AUTH (the metadata is the deployment's service credential); the store answers
 * AUTH_OK, or an ERROR with request id 0 and closes the connection.
 */
export const FrameKind = {
  PUT_RUN: 1,
  GET_RUN: 2,
  SHM_ATTACH: 3,
  PUT_RUN_SHM: 4,
  GET_RUN_SHM: 5,
  AUTH: 6,
  PUT_RESULT: 0x81,
  GET_RESULT: 0x82,
  SHM_ATTACHED: 0x83,
  AUTH_OK: 0x86,
  ERROR: 0xff,
} as const;
/** A frame kind value. */
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const KNOWN_KINDS = new Set<number>(Object.values(FrameKind));

/** Flag bits of byte 6-7. */
export const FrameFlag = {
  /** PUT_RUN / PUT_RUN_SHM: acknowledge only once durable. */
  ACK_DURABLE: 1,
  /** GET_RESULT: the run stopped at the byte limit, not at a missing block; ask again for the rest. */
  LIMITED: 2,
  /** PUT_RUN / PUT_RUN_SHM: the blocks are a request's own objects (stored, never announced). */
  REQUEST_SCOPED: 4,
} as const;

/** The fixed header of a frame. */
export interface FrameHeader {
  kind: FrameKind;
  flags: number;
  /** Chosen by the client; echoed in the response (0 in an error about an unparsable frame). */
  requestId: number;
  /** Blocks or hashes described by the metadata. */
  count: number;
  metaBytes: number;
  payloadBytes: number;
}

const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_KIND = 5;
const OFF_FLAGS = 6;
const OFF_REQUEST_ID = 8;
const OFF_COUNT = 12;
const OFF_META_BYTES = 16;
const OFF_PAYLOAD_BYTES = 20;
const OFF_RESERVED = 24;
const OFF_CRC = 28;

/** CRC-32 over header bytes [0, 28) and the metadata. */
function headerCrc(header: Uint8Array, meta: Uint8Array): number {
  return crc32(meta, crc32(header.subarray(0, OFF_CRC)));
}

/** Header bytes for `h` and its `meta`; the caller writes header, meta, then the payload. */
export function encodeFrameHeader(h: FrameHeader, meta: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  b.writeUInt32LE(FRAME_MAGIC, OFF_MAGIC);
  b.writeUInt8(FRAME_VERSION, OFF_VERSION);
  b.writeUInt8(h.kind, OFF_KIND);
  b.writeUInt16LE(h.flags, OFF_FLAGS);
  b.writeUInt32LE(h.requestId >>> 0, OFF_REQUEST_ID);
  b.writeUInt32LE(h.count, OFF_COUNT);
  b.writeUInt32LE(meta.length, OFF_META_BYTES);
  b.writeUInt32LE(h.payloadBytes, OFF_PAYLOAD_BYTES);
  b.writeUInt32LE(0, OFF_RESERVED);
  b.writeUInt32LE(headerCrc(b, meta), OFF_CRC);
  return b;
}

/**
 * Parse and check the fixed header (magic, version, kind, reserved bits, limits). The CRC needs
 * the metadata: check it with {@link checkFrameCrc} once that has arrived.
 * Throws TransportError INVALID_ARGUMENT naming the field.
 */
export function decodeFrameHeader(b: Uint8Array): FrameHeader {
  const v = Buffer.from(b.buffer, b.byteOffset, FRAME_HEADER_BYTES);
  const magic = v.readUInt32LE(OFF_MAGIC);
  if (magic !== FRAME_MAGIC)
    throw frameError("bad_magic", "frame.magic", `0x${magic.toString(16)} is not "KVT1"; not a kvtier data-path stream`);
  const version = v.readUInt8(OFF_VERSION);
  if (version !== FRAME_VERSION)
    throw frameError("bad_version", "frame.version", `version ${version} unsupported (this build speaks ${FRAME_VERSION})`);
  const kind = v.readUInt8(OFF_KIND);
  if (!KNOWN_KINDS.has(kind)) throw frameError("unknown_kind", "frame.kind", `unknown frame kind ${kind}`);
  if (v.readUInt32LE(OFF_RESERVED) !== 0) throw frameError("malformed", "frame.reserved", "reserved bytes must be zero");
  const metaBytes = v.readUInt32LE(OFF_META_BYTES);
  if (metaBytes > MAX_FRAME_META_BYTES)
    throw frameError("oversized", "frame.meta_bytes", `${metaBytes} bytes of metadata exceed the limit of ${MAX_FRAME_META_BYTES}`);
  const payloadBytes = v.readUInt32LE(OFF_PAYLOAD_BYTES);
  if (payloadBytes > MAX_FRAME_PAYLOAD_BYTES)
    throw frameError("oversized", "frame.payload_bytes", `${payloadBytes} payload bytes exceed the limit of ${MAX_FRAME_PAYLOAD_BYTES}`);
  const count = v.readUInt32LE(OFF_COUNT);
  if (count > MAX_RUN_BLOCKS)
    throw frameError("oversized", "frame.count", `${count} blocks exceed the limit of ${MAX_RUN_BLOCKS} per request`);
  return {
    kind: kind as FrameKind,
    flags: v.readUInt16LE(OFF_FLAGS),
    requestId: v.readUInt32LE(OFF_REQUEST_ID),
    count,
    metaBytes,
    payloadBytes,
  };
}

/** Throw TransportError `header_checksum` unless the header's CRC covers these bytes. */
export function checkFrameCrc(header: Uint8Array, meta: Uint8Array): void {
  const want = Buffer.from(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).readUInt32LE(OFF_CRC);
  const got = headerCrc(header, meta);
  if (want !== got)
    throw frameError(
      "header_checksum",
      "frame.crc",
      `header checksum 0x${got.toString(16)} != 0x${want.toString(16)} (corrupted or mis-declared frame)`,
    );
}
