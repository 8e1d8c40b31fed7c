// Open registry of KV codecs by id, with short aliases ("kivi2" -> "kivi2-g32-f16"); the built-in
// codecs (fp32, fp16, bf16, fp8-e4m3 unscaled and scaled, int8, int4, KIVI, KIVI-2 with least-squares
// grids) are registered at load.
import { KvBlockError } from "../kv-block-error.js";
import { int4Codec, int8Codec, int8SymCodec, kivi2Codec, kivi2LsqCodec, kivi4Codec } from "./affine-codecs.js";
import { bf16Codec } from "./bf16-codec.js";
import { fp16Codec } from "./fp16-codec.js";
import { fp8E4m3Codec } from "./fp8-e4m3-codec.js";
import { fp8E4m3ScaledCodec } from "./fp8-e4m3-scaled-codec.js";
import { fp32Codec } from "./fp32-codec.js";
import type { KvCodec } from "./kv-codec.js";

/** Longest codec id, in UTF-8 bytes (the size of the header field). */
export const MAX_CODEC_ID_BYTES = 32;

const codecs = new Map<string, KvCodec>();
const knownIds: string[] = [];
const aliasToId = new Map<string, string>();

/** Ids of every registered codec, in registration order (a live view: grows with registerCodec). */
export const KNOWN_CODECS: readonly string[] = knownIds;

/**
 * Add a codec to the registry. Ids are unique and at most {@link MAX_CODEC_ID_BYTES} UTF-8 bytes;
 * registering the same object twice is a no-op, a different codec under a taken id throws.
 */
export function registerCodec(codec: KvCodec): void {
  const existing = codecs.get(codec.id);
  if (existing === codec) return;
  if (existing !== undefined || aliasToId.has(codec.id)) throw new Error(`codec id "${codec.id}" is already registered`);
  const idBytes = Buffer.byteLength(codec.id, "utf8");
  if (idBytes === 0 || idBytes > MAX_CODEC_ID_BYTES || codec.id.includes("\0")) {
    throw new Error(`codec id "${codec.id}" must be 1..${MAX_CODEC_ID_BYTES} UTF-8 bytes without NUL`);
  }
  for (const alias of codec.aliases ?? []) {
    if (codecs.has(alias) || (aliasToId.has(alias) && aliasToId.get(alias) !== codec.id)) {
      throw new Error(`codec alias "${alias}" of "${codec.id}" is already taken`);
    }
  }
  codecs.set(codec.id, codec);
  knownIds.push(codec.id);
  for (const alias of codec.aliases ?? []) aliasToId.set(alias, codec.id);
}

/**
 * The codec id a name stands for: an id maps to itself, an alias ("kivi2") to its codec's id
 * ("kivi2-g32-f16"). Throws KvBlockError `UNKNOWN_CODEC`. Stored objects, headers and the index
 * use ids only; aliases are for people and request fields.
 */
export function resolveCodecId(name: string): string {
  if (codecs.has(name)) return name;
  const id = aliasToId.get(name);
  if (id !== undefined) return id;
  throw new KvBlockError(
    "UNKNOWN_CODEC",
    `unknown KV codec "${name}" (known: ${knownIds.join(", ")}; aliases: ${[...aliasToId.keys()].join(", ")})`,
  );
}

/**
 * Refuse a block size the codec is not defined for (KIVI groups keys over 32 tokens, so KIVI
 * deployments need blockSize >= 32). Throws KvBlockError `SIZE_MISMATCH` with the reason.
 */
export function checkCodecBlockSize(codecId: string, blockSize: number): void {
  const min = getCodec(codecId).minBlockTokens ?? 1;
  if (blockSize < min) {
    throw new KvBlockError(
      "SIZE_MISMATCH",
      `codec ${codecId} groups keys over ${min} tokens, so it needs block_size >= ${min}; this block size is ${blockSize}`,
    );
  }
}

/** Alias -> codec id, for every registered alias. */
export function codecAliases(): ReadonlyMap<string, string> {
  return aliasToId;
}

/** Look up a codec; throws KvBlockError `UNKNOWN_CODEC` if none is registered under `id`. */
export function getCodec(id: string): KvCodec {
  const codec = codecs.get(id);
  if (codec === undefined) {
    throw new KvBlockError("UNKNOWN_CODEC", `unknown KV codec "${id}" (known: ${knownIds.join(", ")})`);
  }
  return codec;
}

for (const codec of [
  fp32Codec,
  fp16Codec,
  bf16Codec,
  fp8E4m3Codec,
  fp8E4m3ScaledCodec,
  int8SymCodec,
  int8Codec,
  int4Codec,
  kivi4Codec,
  kivi2Codec,
  kivi2LsqCodec,
]) {
  registerCodec(codec);
}
