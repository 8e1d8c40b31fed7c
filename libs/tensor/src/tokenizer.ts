// llama2.c BPE tokenizer: file format, encode (greedy best-score merges) and per-token decode bytes.
import { readFileSync } from 'node:fs';
import { EngineError } from './engine-error.js';

/** Offset of the byte-fallback tokens: byte b is token b + 3 (after <unk>, <s>, </s>). */
const BYTE_FALLBACK_OFFSET = 3;
/** Longest UTF-8 sequence grouped into one codepoint lookup, in bytes. */
const MAX_UTF8_SEQUENCE_BYTES = 4;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** Pieces are keyed as latin1 "binary strings" so any byte sequence maps 1:1 to a JS string. */
const toKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/** Encode options: prepend BOS (1) and/or append EOS (2). */
export interface EncodeOptions {
  bos: boolean;
  eos?: boolean;
}

/** A SentencePiece-style vocabulary exported by llama2.c (tokenizer.bin), encoding exactly as run.c does. */
export class Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  readonly vocabSize: number;
  private readonly pieces: Uint8Array[];
  private readonly keys: string[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();

  private constructor(pieces: Uint8Array[], scores: Float32Array) {
    this.vocabSize = pieces.length;
    this.pieces = pieces;
    this.scores = scores;
    this.keys = pieces.map(toKey);
    // First id wins on duplicate pieces (run.c's bsearch leaves that unspecified).
    this.keys.forEach((key, id) => {
      if (!this.lookup.has(key)) this.lookup.set(key, id);
    });
  }

  /** Read a llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32 len, bytes. */
  static fromFile(path: string, vocabSize: number): Tokenizer {
    return Tokenizer.fromBytes(readFileSync(path), vocabSize);
  }

  /** Parse tokenizer bytes (see {@link Tokenizer.fromFile}). */
  static fromBytes(bytes: Uint8Array, vocabSize: number): Tokenizer {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    let at = 4; // max_token_length: not needed, JS strings grow
    for (let i = 0; i < vocabSize; i++) {
      if (at + 8 > bytes.length) throw new EngineError('BAD_TOKENIZER', `tokenizer ends at token ${i} of ${vocabSize}`);
      scores[i] = view.getFloat32(at, true);
      const len = view.getInt32(at + 4, true);
      at += 8;
      if (len < 0 || at + len > bytes.length) throw new EngineError('BAD_TOKENIZER', `token ${i} has bad length ${len}`);
      pieces.push(bytes.slice(at, at + len));
      at += len;
    }
    return new Tokenizer(pieces, scores);
  }

  /** Raw bytes of a piece as stored in the vocabulary. */
  piece(token: number): Uint8Array {
    this.checkToken(token);
    return this.pieces[token];
  }

  /**
   * Tokenize like run.c `encode`: optional BOS, a dummy-prefix " " token when text is non-empty,
   * one token per UTF-8 codepoint (byte fallback +3 when the codepoint is not a piece), then
   * repeatedly merge the adjacent pair whose concatenation is the best-scoring piece.
   */
  encode(text: string, opts: EncodeOptions): number[] {
    const bytes = Buffer.from(text, 'utf8');
    const tokens: number[] = [];
    if (opts.bos) tokens.push(this.bosId);
    if (bytes.length > 0) {
      const dummy = this.lookup.get(' ');
      if (dummy === undefined) throw new EngineError('BAD_TOKENIZER', 'vocabulary has no " " piece for the dummy prefix');
      tokens.push(dummy);
    }
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i;
      const len = i - start + 1;
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && len < MAX_UTF8_SEQUENCE_BYTES) continue;
      const id = this.lookup.get(toKey(bytes.subarray(start, i + 1)));
      if (id !== undefined) {
        tokens.push(id);
      } else {
        for (let j = start; j <= i; j++) tokens.push(bytes[j] + BYTE_FALLBACK_OFFSET);
      }
      start = i + 1;
    }
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = this.lookup.get(this.keys[tokens[i]] + this.keys[tokens[i + 1]]);
        if (id !== undefined && this.scores[id] > bestScore) {
          bestScore = this.scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    if (opts.eos) tokens.push(this.eosId);
    return tokens;
  }

  /**
   * Bytes `token` contributes to the text when it follows `prevToken`, as run.c `decode`:
   * the leading space is stripped right after BOS, and "<0xXX>" pieces are the raw byte XX.
   */
  pieceBytes(prevToken: number, token: number): Uint8Array {
    let piece = this.piece(token);
    if (prevToken === this.bosId && piece[0] === 0x20) piece = piece.subarray(1);
    if (piece.length === 6 && piece[0] === 0x3c) {
      const m = BYTE_PIECE.exec(toKey(piece));
      if (m !== null) return Uint8Array.of(parseInt(m[1], 16));
    }
    return piece;
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new EngineError('INVALID_ARGUMENT', `token ${token} outside vocabulary of ${this.vocabSize}`);
    }
  }
}
