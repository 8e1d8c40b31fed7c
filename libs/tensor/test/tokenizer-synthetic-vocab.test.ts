import { describe, expect, it } from "vitest";
import { Tokenizer, type EncodeOptions } from "../src/tokenizer.js";
import { Xoshiro128 } from "../src/xoshiro128.js";
import { ReferenceTokenizer } from "./tokenizer-reference.js";

// tok512's scores are all distinct, so there ties only come from one piece at several places.
// These vocabularies are built to hit what it cannot: many pieces sharing a score (0 and -0
// among them), NaN and below-floor scores (never merged), duplicate pieces, pieces that merge
// byte-fallback tokens or BOS with what follows, and an empty piece.

const OPTIONS: EncodeOptions[] = [{ bos: false }, { bos: true }, { bos: false, eos: true }, { bos: true, eos: true }];
const SCORES = [0, -0, -1, -1, -2, -3.5, NaN, -1e11, -1e10];
const ALPHABET = ["a", "b", " ", "é", "\n<s>\n", "x", "世"];

interface Piece {
  text: Buffer;
  score: number;
}

/** A llama2.c tokenizer file: <unk>, BOS, EOS, the 256 byte pieces, " ", then pieces built by joining earlier ones. */
function randomVocab(rng: Xoshiro128, withEmptyPiece: boolean): { bytes: Buffer; size: number } {
  const any = <T>(xs: readonly T[]): T => xs[rng.nextU32() % xs.length];
  const pieces: Piece[] = [
    { text: Buffer.from("<unk>"), score: 0 },
    { text: Buffer.from("\n<s>\n"), score: 0 },
    { text: Buffer.from("\n</s>\n"), score: 0 },
    ...Array.from({ length: 256 }, (_, b) => ({ text: Buffer.from(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`), score: 0 })),
    { text: Buffer.from(" "), score: -5 },
  ];
  const seeds = ["a", "b", "é", "x"].filter(() => rng.nextU32() % 4 !== 0);
  for (const t of seeds) pieces.push({ text: Buffer.from(t), score: -5 });
  if (withEmptyPiece) pieces.push({ text: Buffer.alloc(0), score: any(SCORES) });
  const extra = 20 + (rng.nextU32() % 40);
  for (let i = 0; i < extra; i++) {
    const kind = rng.nextU32() % 10;
    let text: Buffer;
    if (kind === 0)
      text = Buffer.from("\n<s>\n " + any(["", "a", "b"])); // BOS merging with the dummy prefix
    else if (kind === 1)
      text = Buffer.from(any(["<0xE4><0xB8>", "<0xC3><0xA9>", "<0xE4><0xB8><0x96>"])); // merged byte fallbacks
    else if (kind === 2)
      text = any(pieces.slice(259)).text; // a duplicate
    else text = Buffer.concat([any(pieces.slice(259)).text, any(pieces.slice(259)).text]);
    pieces.push({ text, score: kind === 9 ? Math.fround(rng.nextFloat() * -10) : any(SCORES) });
  }
  const parts: Buffer[] = [Buffer.alloc(4)];
  for (const p of pieces) {
    const head = Buffer.alloc(8);
    head.writeFloatLE(p.score, 0);
    head.writeInt32LE(p.text.length, 4);
    parts.push(head, p.text);
  }
  return { bytes: Buffer.concat(parts), size: pieces.length };
}

function randomText(rng: Xoshiro128): string {
  const n = rng.nextU32() % 40;
  return Array.from({ length: n }, () => ALPHABET[rng.nextU32() % ALPHABET.length]).join("");
}

describe("Tokenizer on random vocabularies with score ties, duplicates, NaN, BOS and byte-fallback merges", () => {
  it("encode and encodeAsync match the original quadratic merge loop, and minTokens bounds the count", async () => {
    const rng = new Xoshiro128(314159);
    for (let v = 0; v < 60; v++) {
      const { bytes, size } = randomVocab(rng, v % 6 === 5);
      const tok = Tokenizer.fromBytes(bytes, size);
      const ref = new ReferenceTokenizer(bytes, size);
      for (let i = 0; i < 40; i++) {
        const text = randomText(rng);
        const opts = OPTIONS[i % OPTIONS.length];
        const want = ref.encode(text, opts);
        const context = `vocabulary ${v}, text ${JSON.stringify(text)}, ${JSON.stringify(opts)}`;
        expect(tok.encode(text, opts), context).toEqual(want);
        if (i % 8 === 0) expect(await tok.encodeAsync(text, opts, { sliceMs: 0 }), context).toEqual(want);
        expect(tok.minTokens(Buffer.byteLength(text), opts), context).toBeLessThanOrEqual(want.length);
      }
    }
  });

  it("does not count BOS when a piece merges it with what follows, nor any text bytes when there is an empty piece", () => {
    const rng = new Xoshiro128(1);
    let sawBosMerge = false;
    let sawEmpty = false;
    for (let v = 0; v < 60 && !(sawBosMerge && sawEmpty); v++) {
      const { bytes, size } = randomVocab(rng, v % 6 === 5);
      const tok = Tokenizer.fromBytes(bytes, size);
      const ref = new ReferenceTokenizer(bytes, size);
      if (v % 6 === 5) {
        sawEmpty = true;
        expect(tok.maxPieceBytes).toBe(Infinity);
        expect(tok.minTokens(1000, { bos: false, eos: true })).toBe(1);
      }
      if (ref.idOf(ref.pieceKey(tok.bosId) + " ") !== undefined) {
        sawBosMerge = true;
        expect(tok.minTokens(1, { bos: true })).toBe(Number.isFinite(tok.maxPieceBytes) ? Math.ceil(2 / tok.maxPieceBytes) : 0);
      }
    }
    expect([sawBosMerge, sawEmpty]).toEqual([true, true]);
  });
});
