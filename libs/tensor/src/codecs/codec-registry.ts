// Open registry of KV codecs by id; fp32 and fp16 are built in, other codecs register themselves.
import { KvBlockError } from '../kv-block-error.js';
import { fp16Codec } from './fp16-codec.js';
import { fp32Codec } from './fp32-codec.js';
import type { KvCodec } from './kv-codec.js';

/** Longest codec id, in UTF-8 bytes (the size of the header field). */
export const MAX_CODEC_ID_BYTES = 32;

const codecs = new Map<string, KvCodec>();
const knownIds: string[] = [];

/** Ids of every registered codec, in registration order (a live view: grows with registerCodec). */
export const KNOWN_CODECS: readonly string[] = knownIds;

/**
 * Add a codec to the registry. Ids are unique and at most {@link MAX_CODEC_ID_BYTES} UTF-8 bytes;
 * registering the same object twice is a no-op, a different codec under a taken id throws.
 */
export function registerCodec(codec: KvCodec): void {
  const existing = codecs.get(codec.id);
  if (existing === codec) return;
  if (existing !== undefined) throw new Error(`codec id "${codec.id}" is already registered`);
  const idBytes = Buffer.byteLength(codec.id, 'utf8');
  if (idBytes === 0 || idBytes > MAX_CODEC_ID_BYTES || codec.id.includes('\0')) {
    throw new Error(`codec id "${codec.id}" must be 1..${MAX_CODEC_ID_BYTES} UTF-8 bytes without NUL`);
  }
  codecs.set(codec.id, codec);
  knownIds.push(codec.id);
}

/** Look up a codec; throws KvBlockError `UNKNOWN_CODEC` if none is registered under `id`. */
export function getCodec(id: string): KvCodec {
  const codec = codecs.get(id);
  if (codec === undefined) {
    throw new KvBlockError('UNKNOWN_CODEC', `unknown KV codec "${id}" (known: ${knownIds.join(', ')})`);
  }
  return codec;
}

registerCodec(fp32Codec);
registerCodec(fp16Codec);
