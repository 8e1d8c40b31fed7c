// llama2.c BPE tokenizer: file format, encode (greedy best-score merges, sync or in event-loop
// slices), a token-count lower bound from the byte length, and per-token decode bytes.
import { readFileSync } from "node:fs";
import { setImmediate as nextLoopTurn } from "node:timers/promises";
import { BpeEncoding, MAX_UTF8_SEQUENCE_BYTES, type BpeVocabulary } from "./bpe-encoding.js";
import { EngineError } from "./engine-error.js";
import { MergeTable } from "./merge-table.js";

/** Bytes of the dummy prefix " " encode puts before a non-empty text. */
const DUMMY_PREFIX_BYTES = 1;
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
/** How long `encodeAsync` may run before it gives the event loop back, by default, in ms. */
const DEFAULT_ENCODE_SLICE_MS = 2;
/**
 * Encoding steps (a byte of the pre-split, a popped merge or a token copied out: at most about
 * 0.1 us each on the texts of `pnpm bench tokenizer`) between two clock reads in `encodeAsync`.
 * A read (tens of ns) per 0.1 ms of work costs nothing measurable, and a slice overruns
 * `sliceMs` by about 0.1 ms.
 */
const STEPS_PER_CLOCK_CHECK = 1024;

/** Pieces are keyed as latin1 "binary strings" so any byte sequence maps 1:1 to a JS string. */
const toKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");

/** Encode options: prepend BOS (1) and/or append EOS (2). */
export interface EncodeOptions {
  bos: boolean;
  eos?: boolean;
}

/** Options of {@link Tokenizer.encodeAsync}. */
export interface EncodeAsyncOptions {
  /**
   * Give the event loop back (one `setImmediate` turn) once encoding has run this long since it
   * last did, in ms; 0 yields at every clock check. @default DEFAULT_ENCODE_SLICE_MS (2 ms)
   */
  sliceMs?: number;
}

/** A SentencePiece-style vocabulary exported by llama2.c (tokenizer.bin), encoding exactly as run.c does. */
export class Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  readonly vocabSize: number;
  /**
   * Most bytes of input (the text and the dummy prefix) one token can stand for: the longer of the
   * longest piece two pieces merge into and the longest piece one codepoint looks up (at most 4
   * bytes). A byte-fallback token stands for 1 byte, not the 6 of its "<0xXX>" piece, and a merge
   * never stands for more bytes than its piece holds. 7 for tok512 (" friend", " little").
   * Infinity if the vocabulary holds an empty piece (merging with it covers more input without a
   * longer piece, so no such bound holds).
   */
  readonly maxPieceBytes: number;
  private readonly pieces: Uint8Array[];
  private readonly vocab: BpeVocabulary;
  /** Whether BOS can merge with the token after it (then it is not sure to stay in the output). */
  private readonly bosMerges: boolean;

  private constructor(pieces: Uint8Array[], scores: Float32Array) {
    this.vocabSize = pieces.length;
    this.pieces = pieces;
    const keys = pieces.map(toKey);
    const lookup = new Map<string, number>();
    // First id wins on duplicate pieces (run.c's bsearch leaves that unspecified).
    keys.forEach((key, id) => {
      if (!lookup.has(key)) lookup.set(key, id);
    });
    const merges = new MergeTable(keys, lookup);
    this.vocab = { lookup, merges, scores };
    this.bosMerges = merges.mergesOnTheLeft(this.bosId);
    let longestCodepoint = 1; // a byte-fallback token
    for (const key of lookup.keys()) if (key.length <= MAX_UTF8_SEQUENCE_BYTES) longestCodepoint = Math.max(longestCodepoint, key.length);
    this.maxPieceBytes = lookup.has("") ? Infinity : Math.max(longestCodepoint, merges.longestMergedPieceBytes);
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
      if (at + 8 > bytes.length) throw new EngineError("BAD_TOKENIZER", `tokenizer ends at token ${i} of ${vocabSize}`);
      scores[i] = view.getFloat32(at, true);
      const len = view.getInt32(at + 4, true);
      at += 8;
      if (len < 0 || at + len > bytes.length) throw new EngineError("BAD_TOKENIZER", `token ${i} has bad length ${len}`);
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
   * repeatedly merge the adjacent pair whose concatenation is the best-scoring piece (the leftmost
   * on ties). O(n log n) in the text's length; holds the thread throughout (see {@link encodeAsync}).
   */
  encode(text: string, opts: EncodeOptions): number[] {
    const encoding = this.begin(text, opts);
    encoding.advance(Infinity);
    return this.finish(encoding, opts);
  }

  /**
   * The tokens of {@link encode}, computed in slices: whenever encoding has run for `sliceMs`
   * since it last yielded, it waits one `setImmediate` turn, so other callbacks on the event loop
   * wait a few milliseconds at most, even on a long text. A text done in fewer than
   * `STEPS_PER_CLOCK_CHECK` steps (a byte of the pre-split, a popped merge or a token copied out;
   * a few hundred bytes of text) never yields, whatever `sliceMs`: short prompts pay no loop turn.
   */
  async encodeAsync(text: string, opts: EncodeOptions, { sliceMs = DEFAULT_ENCODE_SLICE_MS }: EncodeAsyncOptions = {}): Promise<number[]> {
    if (!(sliceMs >= 0)) throw new EngineError("INVALID_ARGUMENT", `sliceMs must be >= 0, got ${sliceMs}`);
    let sliceStart = performance.now(); // the first slice includes the UTF-8 copy and the allocations
    const encoding = this.begin(text, opts);
    while (!encoding.advance(STEPS_PER_CLOCK_CHECK)) {
      if (performance.now() - sliceStart < sliceMs) continue;
      await nextLoopTurn();
      sliceStart = performance.now();
    }
    return this.finish(encoding, opts);
  }

  /**
   * The fewest tokens `encode` can return for any text of `byteLength` UTF-8 bytes: BOS and EOS
   * when asked for (BOS only if it merges with no token, as in every llama2.c vocabulary), plus
   * the text and its dummy prefix at {@link maxPieceBytes} each. Lets a caller refuse a text too
   * long for a context before tokenizing it.
   */
  minTokens(byteLength: number, opts: EncodeOptions): number {
    if (!Number.isSafeInteger(byteLength) || byteLength < 0)
      throw new EngineError("INVALID_ARGUMENT", `byteLength must be a non-negative integer, got ${byteLength}`);
    const eos = opts.eos ? 1 : 0;
    if (byteLength === 0) return (opts.bos ? 1 : 0) + eos;
    const bos = opts.bos && !this.bosMerges ? 1 : 0;
    return bos + eos + Math.ceil((byteLength + DUMMY_PREFIX_BYTES) / this.maxPieceBytes);
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

  /** The encoding of `text` with its leading tokens (BOS, the dummy prefix) in place, nothing merged yet. */
  private begin(text: string, opts: EncodeOptions): BpeEncoding {
    const bytes = Buffer.from(text, "utf8");
    const leading: number[] = [];
    if (opts.bos) leading.push(this.bosId);
    if (bytes.length > 0) {
      const dummy = this.vocab.lookup.get(" ");
      if (dummy === undefined) throw new EngineError("BAD_TOKENIZER", 'vocabulary has no " " piece for the dummy prefix');
      leading.push(dummy);
    }
    return new BpeEncoding(this.vocab, bytes, leading);
  }

  private finish(encoding: BpeEncoding, opts: EncodeOptions): number[] {
    const tokens = encoding.tokens();
    if (opts.eos) tokens.push(this.eosId);
    return tokens;
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new EngineError("INVALID_ARGUMENT", `token ${token} outside vocabulary of ${this.vocabSize}`);
    }
  }
}
