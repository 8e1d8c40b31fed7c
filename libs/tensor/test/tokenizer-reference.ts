// Test oracle: the tokenizer's original encode (run.c's quadratic merge loop, verbatim) over a
// vocabulary parsed here on its own, so the fast encoder is checked against an independent copy.
import { readFileSync } from "node:fs";
import type { EncodeOptions } from "../src/tokenizer.js";

/** Offset of the byte-fallback tokens: byte b is token b + 3 (after <unk>, <s>, </s>). */
const BYTE_FALLBACK_OFFSET = 3;
/** Longest UTF-8 sequence grouped into one codepoint lookup, in bytes. */
const MAX_UTF8_SEQUENCE_BYTES = 4;

/** Pieces are keyed as latin1 "binary strings" so any byte sequence maps 1:1 to a JS string. */
const toKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");

/** A llama2.c vocabulary as the original encode read it. */
export class ReferenceTokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  readonly keys: string[] = [];
  readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();

  /** Read a llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32 len, bytes. */
  static fromFile(path: string, vocabSize: number): ReferenceTokenizer {
    return new ReferenceTokenizer(readFileSync(path), vocabSize);
  }

  /** Parse the bytes of a tokenizer file. */
  constructor(bytes: Buffer, vocabSize: number) {
    this.scores = new Float32Array(vocabSize);
    let at = 4;
    for (let i = 0; i < vocabSize; i++) {
      this.scores[i] = bytes.readFloatLE(at);
      const len = bytes.readInt32LE(at + 4);
      this.keys.push(toKey(bytes.subarray(at + 8, at + 8 + len)));
      at += 8 + len;
    }
    this.keys.forEach((key, id) => {
      if (!this.lookup.has(key)) this.lookup.set(key, id);
    });
  }

  /** The piece a token stands for, as a latin1 string. */
  pieceKey(token: number): string {
    return this.keys[token];
  }

  /** The id lookup finds for a piece (latin1 string), if any. */
  idOf(key: string): number | undefined {
    return this.lookup.get(key);
  }

  /** The original `Tokenizer.encode`, unchanged: each merge rescans every adjacent pair. */
  encode(text: string, opts: EncodeOptions): number[] {
    const bytes = Buffer.from(text, "utf8");
    const tokens: number[] = [];
    if (opts.bos) tokens.push(this.bosId);
    if (bytes.length > 0) {
      const dummy = this.lookup.get(" ");
      if (dummy === undefined) throw new Error('vocabulary has no " " piece for the dummy prefix');
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
}
