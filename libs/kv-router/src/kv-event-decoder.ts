// A direct decoder from KvEventBatch protobuf bytes (proto/kvtier/v1/events.proto) to the index's
// domain batch, for the router's ingest hot path: block hashes come out as views of the message
// (no copy, no intermediate wire objects). It follows the protobuf wire rules the generated code
// follows (unknown fields skipped, last value wins, repeated fields appended, oneof last wins);
// test/kv-event-decoder.test.ts checks it against the generated decoder plus batchFromWire.
import type { KvIndexBatch, KvIndexEvent } from "./kv-event.js";
import type { Tier } from "./tier.js";

/** A message that is not a well-formed KvEventBatch (truncated, bad wire type, over-long varint). */
export class KvEventDecodeError extends Error {
  override readonly name = "KvEventDecodeError";
  readonly code = "MALFORMED_KV_EVENT_BATCH";
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
/** The Tier enum's wire values (common.proto) in domain form; 0 (unspecified) and unknown values map to undefined. */
const TIERS: readonly (Tier | undefined)[] = [undefined, "device", "host", "ssd"];
const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Longest string looked up in the decoded-string cache, and the cache's size (a power of two). */
const MAX_CACHED_STRING_BYTES = 64;
const STRING_CACHE_SLOTS = 256;
const stringCache: (string | undefined)[] = new Array<string | undefined>(STRING_CACHE_SLOTS);

/** Whether ASCII string `s` equals the bytes of `buf` from `at`. */
function sameAscii(s: string, buf: Uint8Array, at: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[at + i]) return false;
  return true;
}

/** Tag 0 or an end-group marker ends a message, as in the generated decoders. */
const ends = (tag: number): boolean => tag === 0 || (tag & 7) === 4;

/** A cursor over a message's bytes; nested messages are read with explicit end offsets. */
class Cursor {
  pos = 0;
  /** Start of the last length-delimited payload read (it ends at `pos`). */
  start = 0;
  constructor(readonly buf: Uint8Array) {}

  varint(end: number): number {
    const buf = this.buf;
    let b = this.pos < end ? buf[this.pos++] : -1;
    if (b < 0) throw new KvEventDecodeError("truncated varint");
    if (b < 0x80) return b;
    let result = b & 0x7f;
    let mul = 128;
    for (let i = 1; i < 10; i++) {
      if (this.pos >= end) throw new KvEventDecodeError("truncated varint");
      b = buf[this.pos++];
      if (i < 8) result += (b & 0x7f) * mul; // exact below 2^53, as the generated decoder requires
      mul *= 128;
      if (b < 0x80) return result;
    }
    throw new KvEventDecodeError("varint longer than 10 bytes");
  }

  /** Reads a length-delimited field: its payload is [start, pos). */
  lengthDelimited(end: number): void {
    const len = this.varint(end);
    if (len > end - this.pos) throw new KvEventDecodeError("length-delimited field past the end");
    this.start = this.pos;
    this.pos += len;
  }

  string(end: number): string {
    this.lengthDelimited(end);
    const a = this.start;
    const b = this.pos;
    // ids and codecs are short ASCII and repeat from batch to batch: look them up in a small cache
    if (b - a <= MAX_CACHED_STRING_BYTES) {
      let h = b - a;
      let ascii = true;
      for (let i = a; i < b; i++) {
        const c = this.buf[i];
        if (c >= 0x80) ascii = false;
        h = (Math.imul(h, 31) + c) | 0;
      }
      if (ascii) {
        const slot = h & (STRING_CACHE_SLOTS - 1);
        const hit = stringCache[slot];
        if (hit !== undefined && hit.length === b - a && sameAscii(hit, this.buf, a)) return hit;
        const str = String.fromCharCode.apply(null, this.buf.subarray(a, b) as unknown as number[]);
        stringCache[slot] = str;
        return str;
      }
    }
    return utf8.decode(this.buf.subarray(a, b));
  }

  skip(wireType: number, end: number): void {
    if (wireType === WIRE_VARINT) this.varint(end);
    else if (wireType === WIRE_FIXED64) this.advance(8, end);
    else if (wireType === WIRE_LEN) this.lengthDelimited(end);
    else if (wireType === WIRE_FIXED32) this.advance(4, end);
    else throw new KvEventDecodeError(`unsupported wire type ${wireType}`);
  }

  private advance(n: number, end: number): void {
    if (n > end - this.pos) throw new KvEventDecodeError("fixed-width field past the end");
    this.pos += n;
  }
}

/** BlockStored (1 hashes, 2 parent, 3 block_size, 4 medium, 5 codec) or BlockRemoved (1 hashes, 2 medium, 3 codec), ending at `end`. */
function blocks(c: Cursor, end: number, stored: boolean): KvIndexEvent | undefined {
  const hashes: Uint8Array[] = [];
  let parent: Uint8Array | undefined;
  let medium = 0;
  let codec = "";
  const mediumField = stored ? 4 : 2;
  const codecField = stored ? 5 : 3;
  while (c.pos < end) {
    const tag = c.varint(end);
    if (ends(tag)) break;
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === WIRE_LEN) {
      c.lengthDelimited(end);
      hashes.push(c.buf.subarray(c.start, c.pos));
    } else if (stored && field === 2 && wt === WIRE_LEN) {
      c.lengthDelimited(end);
      parent = c.pos > c.start ? c.buf.subarray(c.start, c.pos) : undefined;
    } else if (field === mediumField && wt === WIRE_VARINT) medium = c.varint(end);
    else if (field === codecField && wt === WIRE_LEN) codec = c.string(end);
    else c.skip(wt, end);
  }
  c.pos = end;
  const tier = TIERS[medium];
  if (tier === undefined) return undefined;
  return stored ? { kind: "stored", tier, codec, hashes, parent } : { kind: "removed", tier, codec, hashes };
}

/** AllBlocksCleared (1 medium), ending at `end`: no medium clears every tier. */
function cleared(c: Cursor, end: number): KvIndexEvent {
  let medium = 0;
  while (c.pos < end) {
    const tag = c.varint(end);
    if (ends(tag)) break;
    if (tag === 8) medium = c.varint(end);
    else c.skip(tag & 7, end);
  }
  c.pos = end;
  return { kind: "cleared", tier: TIERS[medium] };
}

/** KvEvent ending at `end`: a oneof of stored (1), removed (2), cleared (3); the last one present wins. */
function event(c: Cursor, end: number): KvIndexEvent | undefined {
  let out: KvIndexEvent | undefined;
  while (c.pos < end) {
    const tag = c.varint(end);
    if (ends(tag)) break;
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field >= 1 && field <= 3 && wt === WIRE_LEN) {
      c.lengthDelimited(end);
      const subEnd = c.pos;
      c.pos = c.start;
      out = field === 3 ? cleared(c, subEnd) : blocks(c, subEnd, field === 1);
    } else c.skip(wt, end);
  }
  c.pos = end;
  return out;
}

/**
 * Decodes KvEventBatch bytes straight into the domain form (what batchFromWire gives for the
 * generated decoder's result). Hashes are views of `bytes`: keep `bytes` unmodified while the
 * batch is used.
 * @throws {KvEventDecodeError} on malformed bytes.
 */
export function decodeKvEventBatch(bytes: Uint8Array): KvIndexBatch {
  const c = new Cursor(bytes);
  const end = bytes.length;
  let announcerId = "";
  let incarnation = "";
  let seq = 0;
  let snapshot = false;
  const events: KvIndexEvent[] = [];
  while (c.pos < end) {
    const tag = c.varint(end);
    if (ends(tag)) break;
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === WIRE_LEN) announcerId = c.string(end);
    else if (field === 2 && wt === WIRE_LEN) incarnation = c.string(end);
    else if (field === 3 && wt === WIRE_VARINT) seq = c.varint(end);
    else if (field === 5 && wt === WIRE_LEN) {
      c.lengthDelimited(end);
      const subEnd = c.pos;
      c.pos = c.start;
      const e = event(c, subEnd);
      if (e !== undefined) events.push(e);
    } else if (field === 6 && wt === WIRE_VARINT) snapshot = c.varint(end) !== 0;
    else c.skip(wt, end);
  }
  return { announcerId, incarnation, seq, snapshot, events };
}
