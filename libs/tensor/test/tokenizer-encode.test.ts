import { describe, expect, it } from "vitest";
import { BpeEncoding, type BpeVocabulary } from "../src/bpe-encoding.js";
import { MergeTable } from "../src/merge-table.js";
import { Tokenizer, type EncodeOptions } from "../src/tokenizer.js";
import { Xoshiro128 } from "../src/xoshiro128.js";
import { tokenizerPath } from "./model-dir.js";
import { ReferenceTokenizer } from "./tokenizer-reference.js";

const VOCAB_SIZE = 512;
const tok = Tokenizer.fromFile(tokenizerPath(), VOCAB_SIZE);
const ref = ReferenceTokenizer.fromFile(tokenizerPath(), VOCAB_SIZE);

const STORY = "Once upon a time there was a little girl named Lily. She liked to play outside. ";
const OPTIONS: EncodeOptions[] = [{ bos: false }, { bos: true }, { bos: false, eos: true }, { bos: true, eos: true }];
/** First id after <unk>, <s>, </s> and the 256 byte-fallback pieces. */
const FIRST_TEXT_PIECE = 259;
/** Words with runs of letters whose doubled piece ("ll", "oo", "pp") overlaps itself: ties only the leftmost rule settles. */
const WORDS = [
  "Once",
  "upon",
  "little",
  "friend",
  "Lily",
  "Timmy",
  "happy",
  "balloon",
  "hello",
  "llll",
  "ooo",
  "ppppp",
  "lllol",
  "the",
  "they",
  "said",
];
const NOT_IN_VOCAB = ["世", "界", "😀", "𝄞", "\u{10FFFD}", "ß", "ж"];

/** The vocabulary's text pieces as strings (some are not whole UTF-8: Buffer decoding replaces those). */
const PIECES = Array.from({ length: VOCAB_SIZE - FIRST_TEXT_PIECE }, (_, i) =>
  Buffer.from(ref.pieceKey(FIRST_TEXT_PIECE + i), "latin1").toString("utf8"),
);

/** A random codepoint: ASCII, Latin-1, the rest of the BMP, or beyond it (4 UTF-8 bytes); surrogates excluded. */
function randomCodepoint(rng: Xoshiro128): string {
  const pick = rng.nextU32() % 4;
  const range = (lo: number, hi: number): number => lo + (rng.nextU32() % (hi - lo + 1));
  if (pick === 0) return String.fromCodePoint(range(0x20, 0x7e));
  if (pick === 1) return String.fromCodePoint(range(0xa0, 0xff));
  if (pick === 2) {
    const cp = range(0x100, 0xfffd);
    return String.fromCodePoint(cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp);
  }
  return String.fromCodePoint(range(0x10000, 0x10ffff));
}

/** A random text: words, vocabulary pieces, the story, runs of one letter, whitespace and random Unicode. */
function randomText(rng: Xoshiro128, maxParts: number): string {
  const parts: string[] = [];
  const n = rng.nextU32() % (maxParts + 1);
  const any = <T>(xs: readonly T[]): T => xs[rng.nextU32() % xs.length];
  for (let i = 0; i < n; i++) {
    const kind = rng.nextU32() % 8;
    if (kind === 0) parts.push(any(WORDS));
    else if (kind === 1) parts.push(any(PIECES));
    else if (kind === 2) parts.push(STORY.slice(0, rng.nextU32() % (STORY.length + 1)));
    else if (kind === 3) parts.push(any(["l", "o", "p", "e"]).repeat(1 + (rng.nextU32() % 6)));
    else if (kind === 4) parts.push(any([" ", "  ", "\n", "\t", ". ", ", "]));
    else if (kind === 5) parts.push(any(NOT_IN_VOCAB));
    else parts.push(randomCodepoint(rng));
    if (rng.nextU32() % 2 === 0) parts.push(" ");
  }
  return parts.join("");
}

describe("Tokenizer.encode matches the original quadratic merge loop", () => {
  it("on the empty text and fixed texts, with BOS/EOS on and off", () => {
    const texts = [
      "",
      " ",
      "a",
      "lll",
      "llll",
      "ooooo",
      STORY,
      STORY.repeat(5),
      "Hello, 世界! café 😀",
      "<0xE4>\n<s>\n",
      "friend friend friend",
    ];
    for (const text of texts)
      for (const opts of OPTIONS) expect(tok.encode(text, opts), JSON.stringify(text)).toEqual(ref.encode(text, opts));
  });

  it("on 400 random short texts", () => {
    const rng = new Xoshiro128(20240611);
    for (let i = 0; i < 400; i++) {
      const text = randomText(rng, 40);
      const opts = OPTIONS[i % OPTIONS.length];
      expect(tok.encode(text, opts), JSON.stringify(text)).toEqual(ref.encode(text, opts));
    }
  });

  it("on 12 random texts of a few KB", () => {
    const rng = new Xoshiro128(7);
    for (let i = 0; i < 12; i++) {
      const text = i % 3 === 0 ? STORY.repeat(10 + i) + randomText(rng, 40) : randomText(rng, 400);
      const opts = OPTIONS[i % OPTIONS.length];
      expect(tok.encode(text, opts), JSON.stringify(text)).toEqual(ref.encode(text, opts));
    }
  });
});

describe("Tokenizer.minTokens", () => {
  it('counts 7 bytes per token for tok512 (" friend", " little") and BOS/EOS', () => {
    expect(tok.maxPieceBytes).toBe(7);
    expect(tok.minTokens(0, { bos: false })).toBe(0);
    expect(tok.minTokens(0, { bos: true, eos: true })).toBe(2);
    expect(tok.minTokens(6, { bos: true, eos: true })).toBe(3); // " " + 6 bytes: one token at best
    expect(tok.minTokens(7, { bos: false })).toBe(2);
  });

  it("is reached by texts made of the longest pieces", () => {
    for (let k = 0; k < 20; k++) {
      const text = "friend" + " little friend".repeat(k);
      for (const opts of OPTIONS) expect(tok.minTokens(Buffer.byteLength(text), opts)).toBe(tok.encode(text, opts).length);
    }
  });

  it("is at most the token count of random texts, empty ones included", () => {
    const rng = new Xoshiro128(99);
    for (let i = 0; i < 400; i++) {
      const text =
        i % 5 === 0
          ? ["friend", "little", " friend", " little"]
              .slice(0, 1 + (i % 4))
              .join("")
              .repeat(1 + (i % 7))
          : randomText(rng, 60);
      const opts = OPTIONS[i % OPTIONS.length];
      expect(tok.minTokens(Buffer.byteLength(text), opts), JSON.stringify(text)).toBeLessThanOrEqual(tok.encode(text, opts).length);
    }
  });

  it("rejects a byte length that is not a non-negative integer", () => {
    for (const bad of [-1, 1.5, NaN, Infinity]) expect(() => tok.minTokens(bad, { bos: true })).toThrow(/byteLength/);
  });
});

describe("BpeEncoding.advance", () => {
  it("takes one step a call with maxSteps 1: every byte of the pre-split and every token copied out is a step", () => {
    const lookup = new Map<string, number>();
    ref.keys.forEach((key, id) => {
      if (!lookup.has(key)) lookup.set(key, id);
    });
    const vocab: BpeVocabulary = { lookup, merges: new MergeTable(ref.keys, lookup), scores: ref.scores };
    const dummy = lookup.get(" ")!;
    for (const text of ["…".repeat(300), STORY.repeat(3), "Hello, 世界! café 😀"]) {
      const bytes = Buffer.from(text, "utf8");
      const encoding = new BpeEncoding(vocab, bytes, [tok.bosId, dummy]);
      let calls = 1;
      while (!encoding.advance(1)) calls++;
      const tokens = encoding.tokens();
      expect(tokens).toEqual(tok.encode(text, { bos: true }));
      expect(calls).toBeGreaterThanOrEqual(bytes.length + tokens.length); // plus one per popped merge
    }
  });
});

/** Whether a `setImmediate` callback scheduled just before `run` has run by the time `run` settles. */
async function yieldedDuring(run: () => Promise<unknown>): Promise<boolean> {
  let ran = false;
  setImmediate(() => {
    ran = true;
  });
  await run();
  return ran;
}

describe("Tokenizer.encodeAsync", () => {
  it("returns what encode returns", async () => {
    const rng = new Xoshiro128(5);
    const texts = ["", "lll", STORY.repeat(200), ...Array.from({ length: 20 }, () => randomText(rng, 300))];
    for (const [i, text] of texts.entries()) {
      const opts = OPTIONS[i % OPTIONS.length];
      expect(await tok.encodeAsync(text, opts, { sliceMs: 0 })).toEqual(tok.encode(text, opts));
      expect(await tok.encodeAsync(text, opts)).toEqual(tok.encode(text, opts));
    }
  });

  it("gives the event loop back during a long text with sliceMs 0, and not with sliceMs Infinity", async () => {
    const text = STORY.repeat(100);
    expect(await yieldedDuring(() => tok.encodeAsync(text, { bos: true }, { sliceMs: 0 }))).toBe(true);
    expect(await yieldedDuring(() => tok.encodeAsync(text, { bos: true }, { sliceMs: Infinity }))).toBe(false);
  });

  it("slices the pre-split too (3000 bytes, no merges, 1001 tokens: only the pre-split is longer than a clock check)", async () => {
    const text = "…".repeat(1000); // a 3-byte codepoint that is a piece
    expect(tok.encode(text, { bos: false })).toHaveLength(1 + 1000); // dummy prefix + one token each
    expect(await yieldedDuring(() => tok.encodeAsync(text, { bos: false }, { sliceMs: 0 }))).toBe(true);
  });

  it("does not yield on a short text", async () => {
    expect(await yieldedDuring(() => tok.encodeAsync("Once upon a time", { bos: true }, { sliceMs: 0 }))).toBe(false);
  });

  it("rejects a negative or NaN sliceMs", async () => {
    await expect(tok.encodeAsync("a", { bos: true }, { sliceMs: -1 })).rejects.toThrow(/sliceMs/);
    await expect(tok.encodeAsync("a", { bos: true }, { sliceMs: NaN })).rejects.toThrow(/sliceMs/);
  });
});
