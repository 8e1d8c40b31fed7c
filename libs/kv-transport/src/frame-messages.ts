// The metadata of each frame kind, as typed values, and their encoding. Decoding checks what the
// frame itself can show (lengths, counts, sizes adding up to the payload); whether a codec is
// known or a block verifies is for the receiver.
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { KV_BLOCK_HEADER_BYTES, MAX_CODEC_ID_BYTES } from "@kvtier/tensor";
import { FrameFlag, MAX_BLOCK_BYTES, type FrameHeader } from "./frame-format.js";
import { MetaReader, MetaWriter } from "./meta-codec.js";
import { frameError, transportCodeOf, type TransportErrorCode } from "./transport-error.js";

/** Tiers a served block may come from. */
export type WireTierName = "host" | "ssd";
const TIER_CODE: Record<WireTierName, number> = { host: 1, ssd: 2 };
const tierOf = (code: number, field: string): WireTierName => {
  if (code === 1) return "host";
  if (code === 2) return "ssd";
  throw frameError("malformed", field, `unknown tier ${code}`);
};

/** A shared-memory window: where in the client's arena the blocks are (or may be written). */
export interface ArenaWindow {
  offset: number;
  bytes: number;
}

/** PUT_RUN (blocks in the payload) and PUT_RUN_SHM (blocks consecutive at `windowOffset`). */
export interface PutRunMeta {
  codec: string;
  hashes: Uint8Array[];
  sizes: number[];
  durable: boolean;
  /** From the frame's flags: the blocks are a request's own objects (never announced). */
  requestScoped?: boolean;
  /** PUT_RUN_SHM only: arena offset of the first block. */
  windowOffset?: number;
}

/** GET_RUN and GET_RUN_SHM. */
export interface GetRunMeta {
  codec: string;
  hashes: Uint8Array[];
  /** Most payload bytes wanted in the answer; 0 = the server's limit. */
  maxBytes: number;
  /** GET_RUN_SHM only: where the server writes the blocks. */
  window?: ArenaWindow;
}

/** GET_RESULT: the leading run served. On shm the blocks are consecutive at the request's window offset. */
export interface GetResultMeta {
  tiers: WireTierName[];
  sizes: number[];
  /** The run stopped at the byte limit (or window), not at a missing block. */
  limited: boolean;
}

/** What happened to one block of a put run. */
export type BlockPutOutcome = { outcome: "created" | "existing"; tier: WireTierName } | { outcome: "refused"; error: ErrorBody };

/** An ERROR frame, or one refused block of a put. */
export interface ErrorBody {
  code: TransportErrorCode;
  reason: string;
  field: string;
  message: string;
  /** 0 = no hint. */
  retryAfterMs: number;
}

/** SHM_ATTACH: the arena file (a name inside the store's shm dir) and its size. */
export interface AttachMeta {
  name: string;
  arenaBytes: number;
}

function writeRunKeys(w: MetaWriter, codec: string, hashes: Uint8Array[]): void {
  const c = Buffer.from(codec, "utf8");
  w.u8(c.length).bytes(c);
  for (const h of hashes) w.bytes(h);
}

function readRunKeys(r: MetaReader, count: number): { codec: string; hashes: Uint8Array[] } {
  const codecBytes = r.u8("codec");
  if (codecBytes === 0 || codecBytes > MAX_CODEC_ID_BYTES)
    throw frameError("invalid", "codec", `must be 1..${MAX_CODEC_ID_BYTES} bytes, got ${codecBytes}`);
  const codec = Buffer.from(r.bytes(codecBytes, "codec")).toString("utf8");
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) hashes.push(r.bytes(BLOCK_HASH_BYTES, `block_hashes[${i}]`));
  return { codec, hashes };
}

function readSizes(r: MetaReader, count: number, field: string): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = r.u32(`${field}[${i}]`);
    if (s < KV_BLOCK_HEADER_BYTES || s > MAX_BLOCK_BYTES)
      throw frameError(
        s > MAX_BLOCK_BYTES ? "oversized" : "invalid",
        `${field}[${i}]`,
        `${s} bytes is not a possible block size (${KV_BLOCK_HEADER_BYTES}..${MAX_BLOCK_BYTES})`,
      );
    sizes.push(s);
  }
  return sizes;
}

/** Sum of sizes, which must equal what the header declares (payload or window). */
function checkTotal(sizes: number[], declared: number, field: string): void {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== declared) throw frameError("mismatch", field, `block sizes add up to ${total} bytes, the frame declares ${declared}`);
}

/** PUT_RUN / PUT_RUN_SHM metadata: [window offset u48 (shm)], codec, hashes, sizes. */
export function encodePutRun(m: PutRunMeta): Uint8Array {
  const w = new MetaWriter(64 + m.hashes.length * 20);
  if (m.windowOffset !== undefined) w.u48(m.windowOffset);
  writeRunKeys(w, m.codec, m.hashes);
  for (const s of m.sizes) w.u32(s);
  return w.finish();
}

/** PUT_RUN (payload) or PUT_RUN_SHM (`shm`: sizes counted in the window, payload must be empty). */
export function decodePutRun(h: FrameHeader, meta: Uint8Array, shm: boolean): PutRunMeta {
  const r = new MetaReader(meta);
  const windowOffset = shm ? r.u48("window.offset") : undefined;
  const { codec, hashes } = readRunKeys(r, h.count);
  const sizes = readSizes(r, h.count, "sizes");
  r.end();
  if (h.count === 0) throw frameError("invalid", "frame.count", "a put needs at least one block");
  if (shm && h.payloadBytes !== 0) throw frameError("mismatch", "frame.payload_bytes", "a shared-memory put carries no payload");
  if (!shm) checkTotal(sizes, h.payloadBytes, "frame.payload_bytes");
  return {
    codec,
    hashes,
    sizes,
    durable: (h.flags & FrameFlag.ACK_DURABLE) !== 0,
    requestScoped: (h.flags & FrameFlag.REQUEST_SCOPED) !== 0,
    windowOffset,
  };
}

/** GET_RUN / GET_RUN_SHM metadata: max bytes u32, [window offset and size u48 (shm)], codec, hashes. */
export function encodeGetRun(m: GetRunMeta): Uint8Array {
  const w = new MetaWriter(64 + m.hashes.length * BLOCK_HASH_BYTES);
  w.u32(m.maxBytes);
  if (m.window) w.u48(m.window.offset).u48(m.window.bytes);
  writeRunKeys(w, m.codec, m.hashes);
  return w.finish();
}

/** GET_RUN (`shm` false) or GET_RUN_SHM metadata; a get carries no payload. */
export function decodeGetRun(h: FrameHeader, meta: Uint8Array, shm: boolean): GetRunMeta {
  const r = new MetaReader(meta);
  const maxBytes = r.u32("max_bytes");
  const window = shm ? { offset: r.u48("window.offset"), bytes: r.u48("window.bytes") } : undefined;
  const { codec, hashes } = readRunKeys(r, h.count);
  r.end();
  if (h.payloadBytes !== 0) throw frameError("mismatch", "frame.payload_bytes", "a get request carries no payload");
  return { codec, hashes, maxBytes, window };
}

/** GET_RESULT metadata: per block, its tier (u8) and size (u32). */
export function encodeGetResult(m: GetResultMeta): Uint8Array {
  const w = new MetaWriter(8 + m.sizes.length * 5);
  for (let i = 0; i < m.sizes.length; i++) w.u8(TIER_CODE[m.tiers[i]]).u32(m.sizes[i]);
  return w.finish();
}

/** GET_RESULT; on TCP (`payloadBytes` > 0 or no shm) the sizes must add up to the payload. */
export function decodeGetResult(h: FrameHeader, meta: Uint8Array, shm: boolean): GetResultMeta {
  const r = new MetaReader(meta);
  const tiers: WireTierName[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < h.count; i++) {
    tiers.push(tierOf(r.u8(`tiers[${i}]`), `tiers[${i}]`));
    sizes.push(readSizes(r, 1, `sizes[${i}]`)[0]);
  }
  r.end();
  if (!shm) checkTotal(sizes, h.payloadBytes, "frame.payload_bytes");
  else if (h.payloadBytes !== 0) throw frameError("mismatch", "frame.payload_bytes", "a shared-memory answer carries no payload");
  return { tiers, sizes, limited: (h.flags & FrameFlag.LIMITED) !== 0 };
}

function writeError(w: MetaWriter, e: ErrorBody): void {
  w.str(e.code)
    .str(e.reason)
    .str(e.field)
    .str(e.message)
    .u32(Math.max(0, Math.min(0xffffffff, Math.round(e.retryAfterMs))));
}

function readError(r: MetaReader): ErrorBody {
  return {
    code: transportCodeOf(r.str("error.code")),
    reason: r.str("error.reason"),
    field: r.str("error.field"),
    message: r.str("error.message"),
    retryAfterMs: r.u32("error.retry_after_ms"),
  };
}

/** PUT_RESULT metadata: per block, created/existing (u8) and tier, or refused (u8 2) and its error. */
export function encodePutResult(outcomes: BlockPutOutcome[]): Uint8Array {
  const w = new MetaWriter(16 + outcomes.length * 2);
  for (const o of outcomes) {
    if (o.outcome === "refused") writeError(w.u8(2), o.error);
    else w.u8(o.outcome === "created" ? 0 : 1).u8(TIER_CODE[o.tier]);
  }
  return w.finish();
}

/** PUT_RESULT metadata for `h.count` blocks. */
export function decodePutResult(h: FrameHeader, meta: Uint8Array): BlockPutOutcome[] {
  const r = new MetaReader(meta);
  const out: BlockPutOutcome[] = [];
  for (let i = 0; i < h.count; i++) {
    const kind = r.u8(`outcomes[${i}]`);
    if (kind === 2) out.push({ outcome: "refused", error: readError(r) });
    else if (kind === 0 || kind === 1)
      out.push({ outcome: kind === 0 ? "created" : "existing", tier: tierOf(r.u8(`outcomes[${i}].tier`), `outcomes[${i}].tier`) });
    else throw frameError("malformed", `outcomes[${i}]`, `unknown outcome ${kind}`);
  }
  r.end();
  return out;
}

/** ERROR metadata: code, reason, field, message (u16-length strings) and retry hint (u32 ms). */
export function encodeError(e: ErrorBody): Uint8Array {
  const w = new MetaWriter(64 + e.message.length);
  writeError(w, e);
  return w.finish();
}

/** ERROR metadata; an unknown code becomes INTERNAL. */
export function decodeError(meta: Uint8Array): ErrorBody {
  const r = new MetaReader(meta);
  const e = readError(r);
  r.end();
  return e;
}

/** SHM_ATTACH metadata: arena file name, arena bytes (u48). */
export function encodeAttach(m: AttachMeta): Uint8Array {
  return new MetaWriter(32 + m.name.length).str(m.name).u48(m.arenaBytes).finish();
}

/** SHM_ATTACH metadata. */
export function decodeAttach(meta: Uint8Array): AttachMeta {
  const r = new MetaReader(meta);
  const m = { name: r.str("arena.name"), arenaBytes: r.u48("arena.bytes") };
  r.end();
  return m;
}
