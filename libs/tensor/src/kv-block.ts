// KV block wire/storage format v1: a fixed 112-byte little-endian header, then codec-encoded K/V per layer.
import { crc32 } from "node:zlib";
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { checkCodecBlockSize, getCodec } from "./codecs/codec-registry.js";
import type { KvCodec, KvSegmentShape } from "./codecs/kv-codec.js";
import { KvBlockError } from "./kv-block-error.js";

/** Layout version written at offset 4; bump on any incompatible change. */
export const KV_BLOCK_LAYOUT_VERSION = 1;
/** Size of the fixed header, in bytes. */
export const KV_BLOCK_HEADER_BYTES = 112;
/** Largest encoded block (header + payload) accepted or produced, in bytes. */
export const MAX_KV_BLOCK_BYTES = 64 * 1024 * 1024;
/** Size of the NUL-padded UTF-8 model id field, in bytes. */
export const KV_BLOCK_MODEL_ID_BYTES = 32;
/** Size of the NUL-padded UTF-8 codec id field, in bytes. */
export const KV_BLOCK_CODEC_ID_BYTES = 32;

/** "KVB1" read as a little-endian u32. */
const MAGIC = 0x3142564b;
/** flags bit 0: keys are stored before RoPE (always set in layout v1). */
const FLAG_KEYS_PRE_ROPE = 1;
const U16_MAX = 0xffff;

const OFF_MAGIC = 0;
const OFF_VERSION = 4;
const OFF_HEADER_BYTES = 6;
const OFF_FLAGS = 8;
const OFF_N_LAYERS = 12;
const OFF_N_KV_HEADS = 14;
const OFF_HEAD_DIM = 16;
const OFF_TOKENS = 18;
const OFF_BLOCK_SIZE = 20;
const OFF_RESERVED = 22;
const OFF_PAYLOAD_BYTES = 24;
const OFF_CHECKSUM = 28;
const OFF_BLOCK_HASH = 32;
const OFF_MODEL_ID = 48;
const OFF_CODEC_ID = 80;

/** Everything the header says about a block. */
export interface KvBlockHeader {
  layoutVersion: number;
  modelId: string;
  codec: string;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  /** Tokens in this block; fewer than blockSize for a partial tail block. */
  tokens: number;
  blockSize: number;
  blockHash: Uint8Array;
  payloadBytes: number;
  checksum: number;
}

/** What a caller supplies to encode a block. */
export interface KvBlockShape {
  modelId: string;
  codec: string;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  tokens: number;
  blockSize: number;
  blockHash: Uint8Array;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

function segmentShape(kind: "k" | "v", s: Pick<KvBlockShape, "tokens" | "nKvHeads" | "headDim">): KvSegmentShape {
  return { kind, tokens: s.tokens, nKvHeads: s.nKvHeads, headDim: s.headDim };
}

/** Payload size a codec implies for a shape: 2 * nLayers segments of tokens*nKvHeads*headDim values. */
function payloadBytesFor(codec: KvCodec, s: Pick<KvBlockShape, "nLayers" | "tokens" | "nKvHeads" | "headDim">): number {
  const values = s.tokens * s.nKvHeads * s.headDim;
  return s.nLayers * (codec.bytesFor(values, segmentShape("k", s)) + codec.bytesFor(values, segmentShape("v", s)));
}

function checkShape(s: KvBlockShape): void {
  const dims = { nLayers: s.nLayers, nKvHeads: s.nKvHeads, headDim: s.headDim, tokens: s.tokens, blockSize: s.blockSize };
  for (const [name, value] of Object.entries(dims)) {
    if (!Number.isInteger(value) || value < 1 || value > U16_MAX) {
      throw new KvBlockError("SIZE_MISMATCH", `${name} must be an integer in 1..${U16_MAX}, got ${value}`);
    }
  }
  if (s.tokens > s.blockSize) {
    throw new KvBlockError("SIZE_MISMATCH", `tokens ${s.tokens} exceed blockSize ${s.blockSize}`);
  }
  if (s.blockHash.length !== BLOCK_HASH_BYTES) {
    throw new KvBlockError("SIZE_MISMATCH", `blockHash must be ${BLOCK_HASH_BYTES} bytes, got ${s.blockHash.length}`);
  }
}

function writeText(dst: Uint8Array, offset: number, fieldBytes: number, text: string, field: string): void {
  const bytes = utf8Encoder.encode(text);
  if (bytes.length > fieldBytes || bytes.includes(0)) {
    throw new KvBlockError("TOO_LARGE", `${field} "${text}" must be at most ${fieldBytes} UTF-8 bytes without NUL`);
  }
  dst.set(bytes, offset); // the rest of the field stays zero (NUL padding)
}

function readText(src: Uint8Array, offset: number, fieldBytes: number): string {
  const field = src.subarray(offset, offset + fieldBytes);
  const end = field.indexOf(0);
  return utf8Decoder.decode(end === -1 ? field : field.subarray(0, end));
}

/** CRC-32 over header [0,28) + [32,112) + payload, i.e. everything but the checksum field. */
function blockChecksum(bytes: Uint8Array, payloadBytes: number): number {
  let crc = crc32(bytes.subarray(0, OFF_CHECKSUM));
  crc = crc32(bytes.subarray(OFF_CHECKSUM + 4, KV_BLOCK_HEADER_BYTES), crc);
  return crc32(bytes.subarray(KV_BLOCK_HEADER_BYTES, KV_BLOCK_HEADER_BYTES + payloadBytes), crc);
}

/**
 * Encode one block. `k` and `v` are laid out [layer][token][kvHead][headDim] (keys pre-RoPE),
 * each exactly nLayers * tokens * nKvHeads * headDim values.
 */
export function encodeKvBlock(shape: KvBlockShape, k: Float32Array, v: Float32Array): Uint8Array {
  checkShape(shape);
  const codec = getCodec(shape.codec);
  checkCodecBlockSize(codec.id, shape.blockSize);
  const segValues = shape.tokens * shape.nKvHeads * shape.headDim;
  const expected = shape.nLayers * segValues;
  if (k.length !== expected || v.length !== expected) {
    throw new KvBlockError("SIZE_MISMATCH", `k/v must hold ${expected} values each, got ${k.length}/${v.length}`);
  }
  const payloadBytes = payloadBytesFor(codec, shape);
  if (KV_BLOCK_HEADER_BYTES + payloadBytes > MAX_KV_BLOCK_BYTES) {
    throw new KvBlockError("TOO_LARGE", `block of ${KV_BLOCK_HEADER_BYTES + payloadBytes} bytes exceeds ${MAX_KV_BLOCK_BYTES}`);
  }
  const out = new Uint8Array(KV_BLOCK_HEADER_BYTES + payloadBytes);
  const view = new DataView(out.buffer);
  view.setUint32(OFF_MAGIC, MAGIC, true);
  view.setUint16(OFF_VERSION, KV_BLOCK_LAYOUT_VERSION, true);
  view.setUint16(OFF_HEADER_BYTES, KV_BLOCK_HEADER_BYTES, true);
  view.setUint32(OFF_FLAGS, FLAG_KEYS_PRE_ROPE, true);
  view.setUint16(OFF_N_LAYERS, shape.nLayers, true);
  view.setUint16(OFF_N_KV_HEADS, shape.nKvHeads, true);
  view.setUint16(OFF_HEAD_DIM, shape.headDim, true);
  view.setUint16(OFF_TOKENS, shape.tokens, true);
  view.setUint16(OFF_BLOCK_SIZE, shape.blockSize, true);
  view.setUint16(OFF_RESERVED, 0, true);
  view.setUint32(OFF_PAYLOAD_BYTES, payloadBytes, true);
  out.set(shape.blockHash, OFF_BLOCK_HASH);
  writeText(out, OFF_MODEL_ID, KV_BLOCK_MODEL_ID_BYTES, shape.modelId, "modelId");
  writeText(out, OFF_CODEC_ID, KV_BLOCK_CODEC_ID_BYTES, shape.codec, "codec");

  const kSeg = segmentShape("k", shape);
  const vSeg = segmentShape("v", shape);
  let at = KV_BLOCK_HEADER_BYTES;
  for (let l = 0; l < shape.nLayers; l++) {
    const from = l * segValues;
    const kBytes = codec.bytesFor(segValues, kSeg);
    codec.encode(k.subarray(from, from + segValues), out.subarray(at, at + kBytes), kSeg);
    at += kBytes;
    const vBytes = codec.bytesFor(segValues, vSeg);
    codec.encode(v.subarray(from, from + segValues), out.subarray(at, at + vBytes), vSeg);
    at += vBytes;
  }
  view.setUint32(OFF_CHECKSUM, blockChecksum(out, payloadBytes), true);
  return out;
}

/**
 * Parse and structurally validate a header: magic, version, header size, field ranges, known codec,
 * and total length === 112 + payloadBytes === 112 + what the codec implies. Does NOT check the CRC.
 */
export function readKvBlockHeader(bytes: Uint8Array): KvBlockHeader {
  if (bytes.length < KV_BLOCK_HEADER_BYTES) {
    throw new KvBlockError("TRUNCATED", `block has ${bytes.length} bytes, header alone needs ${KV_BLOCK_HEADER_BYTES}`);
  }
  if (bytes.length > MAX_KV_BLOCK_BYTES) {
    throw new KvBlockError("TOO_LARGE", `block of ${bytes.length} bytes exceeds ${MAX_KV_BLOCK_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, KV_BLOCK_HEADER_BYTES);
  const magic = view.getUint32(OFF_MAGIC, true);
  if (magic !== MAGIC) throw new KvBlockError("BAD_MAGIC", `bad magic 0x${magic.toString(16)}, expected "KVB1"`);
  const layoutVersion = view.getUint16(OFF_VERSION, true);
  if (layoutVersion !== KV_BLOCK_LAYOUT_VERSION) {
    throw new KvBlockError("BAD_VERSION", `layout version ${layoutVersion} unsupported (this build reads ${KV_BLOCK_LAYOUT_VERSION})`);
  }
  const headerBytes = view.getUint16(OFF_HEADER_BYTES, true);
  if (headerBytes !== KV_BLOCK_HEADER_BYTES) {
    throw new KvBlockError("SIZE_MISMATCH", `header size ${headerBytes}, layout v1 defines ${KV_BLOCK_HEADER_BYTES}`);
  }
  const flags = view.getUint32(OFF_FLAGS, true);
  if (flags !== FLAG_KEYS_PRE_ROPE) {
    throw new KvBlockError("BAD_VERSION", `flags 0x${flags.toString(16)} unsupported (v1 requires pre-RoPE keys only)`);
  }
  const codecId = readText(bytes, OFF_CODEC_ID, KV_BLOCK_CODEC_ID_BYTES);
  const codec = getCodec(codecId);
  const header: KvBlockHeader = {
    layoutVersion,
    modelId: readText(bytes, OFF_MODEL_ID, KV_BLOCK_MODEL_ID_BYTES),
    codec: codecId,
    nLayers: view.getUint16(OFF_N_LAYERS, true),
    nKvHeads: view.getUint16(OFF_N_KV_HEADS, true),
    headDim: view.getUint16(OFF_HEAD_DIM, true),
    tokens: view.getUint16(OFF_TOKENS, true),
    blockSize: view.getUint16(OFF_BLOCK_SIZE, true),
    blockHash: bytes.slice(OFF_BLOCK_HASH, OFF_BLOCK_HASH + BLOCK_HASH_BYTES),
    payloadBytes: view.getUint32(OFF_PAYLOAD_BYTES, true),
    checksum: view.getUint32(OFF_CHECKSUM, true),
  };
  if (KV_BLOCK_HEADER_BYTES + header.payloadBytes > MAX_KV_BLOCK_BYTES) {
    throw new KvBlockError("TOO_LARGE", `header claims ${header.payloadBytes} payload bytes, limit is ${MAX_KV_BLOCK_BYTES} per block`);
  }
  checkShape(header);
  checkCodecBlockSize(codecId, header.blockSize);
  const impliedPayload = payloadBytesFor(codec, header);
  if (header.payloadBytes !== impliedPayload) {
    throw new KvBlockError(
      "SIZE_MISMATCH",
      `payloadBytes ${header.payloadBytes}, codec ${codecId} implies ${impliedPayload} for this shape`,
    );
  }
  const total = KV_BLOCK_HEADER_BYTES + header.payloadBytes;
  if (bytes.length < total) throw new KvBlockError("TRUNCATED", `block has ${bytes.length} bytes, header says ${total}`);
  if (bytes.length > total) throw new KvBlockError("SIZE_MISMATCH", `block has ${bytes.length} bytes, header says ${total}`);
  return header;
}

/** {@link readKvBlockHeader} plus the CRC-32 check; throws KvBlockError `BAD_CHECKSUM` on mismatch. */
export function verifyKvBlock(bytes: Uint8Array): KvBlockHeader {
  const header = readKvBlockHeader(bytes);
  const actual = blockChecksum(bytes, header.payloadBytes);
  if (actual !== header.checksum) {
    throw new KvBlockError("BAD_CHECKSUM", `checksum 0x${actual.toString(16)} != header 0x${header.checksum.toString(16)}`);
  }
  return header;
}

/** Verify and decode a block into float32 K and V, each [layer][token][kvHead][headDim], keys pre-RoPE. */
export function decodeKvBlock(bytes: Uint8Array): { header: KvBlockHeader; k: Float32Array; v: Float32Array } {
  const header = verifyKvBlock(bytes);
  const codec = getCodec(header.codec);
  const segValues = header.tokens * header.nKvHeads * header.headDim;
  const k = new Float32Array(header.nLayers * segValues);
  const v = new Float32Array(header.nLayers * segValues);
  const kSeg = segmentShape("k", header);
  const vSeg = segmentShape("v", header);
  let at = KV_BLOCK_HEADER_BYTES;
  for (let l = 0; l < header.nLayers; l++) {
    const from = l * segValues;
    const kBytes = codec.bytesFor(segValues, kSeg);
    codec.decode(bytes.subarray(at, at + kBytes), k.subarray(from, from + segValues), kSeg);
    at += kBytes;
    const vBytes = codec.bytesFor(segValues, vSeg);
    codec.decode(bytes.subarray(at, at + vBytes), v.subarray(from, from + segValues), vSeg);
    at += vBytes;
  }
  return { header, k, v };
}
