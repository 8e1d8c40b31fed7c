import { describe, expect, it } from "vitest";
import { IncrementalDetokenizer } from "../src/detokenizer.js";
import { Tokenizer } from "../src/tokenizer.js";
import { tokenizerPath } from "./model-dir.js";

const tok = Tokenizer.fromFile(tokenizerPath(), 512);
const byteToken = (b: number): number => b + 3;

function decodeAll(tokens: number[]): string {
  const parts: Uint8Array[] = [];
  for (let i = 1; i < tokens.length; i++) parts.push(tok.pieceBytes(tokens[i - 1], tokens[i]));
  return Buffer.concat(parts).toString("utf8");
}

describe("Tokenizer (llama2.c tok512)", () => {
  it('"Once upon a time" with BOS -> [1, 403, 407, 261, 378]', () => {
    expect(tok.encode("Once upon a time", { bos: true })).toEqual([1, 403, 407, 261, 378]);
  });

  it("BOS/EOS flags and empty text", () => {
    expect(tok.encode("", { bos: true })).toEqual([1]);
    expect(tok.encode("", { bos: false })).toEqual([]);
    const withEos = tok.encode("Once upon a time", { bos: false, eos: true });
    expect(withEos).toEqual([403, 407, 261, 378, 2]);
  });

  it("decode(encode(text)) is the text, including byte-fallback characters", () => {
    for (const text of ["Once upon a time", "Hello, 世界! café", 'Tom said "no".\nThe end.', "  two  spaces"]) {
      const tokens = tok.encode(text, { bos: true });
      expect(decodeAll(tokens)).toBe(text);
    }
  });

  it("characters missing from the vocabulary fall back to <0xXX> byte tokens", () => {
    const tokens = tok.encode("世", { bos: false });
    const bytes = Buffer.from("世", "utf8");
    expect(tokens.slice(-3)).toEqual(Array.from(bytes, byteToken));
    expect(Array.from(tok.pieceBytes(0, byteToken(0xe4)))).toEqual([0xe4]);
  });

  it("strips the leading space of the first piece after BOS only", () => {
    const space = tok.encode("a", { bos: false })[0];
    const spaced = tok.piece(space);
    expect(spaced[0]).toBe(0x20);
    expect(tok.pieceBytes(1, space).length).toBe(spaced.length - 1);
    expect(tok.pieceBytes(400, space).length).toBe(spaced.length);
  });
});

describe("IncrementalDetokenizer", () => {
  it("holds the bytes of a multi-byte character split over <0xXX> tokens until it is complete", () => {
    const d = new IncrementalDetokenizer(tok, 1);
    const [b0, b1, b2] = Buffer.from("世", "utf8");
    const out = [tok.encode("Hi", { bos: false }), [byteToken(b0)], [byteToken(b1)], [byteToken(b2)]].flat().map((t) => d.push(t));
    expect(out.slice(-3)).toEqual(["", "", "世"]);
    expect(out.join("") + d.flush()).toBe("Hi世");
  });

  it("flush turns an incomplete character into U+FFFD; invalid bytes do not block later text", () => {
    const d = new IncrementalDetokenizer(tok, 1);
    expect(d.push(byteToken(0xe4))).toBe("");
    expect(d.flush()).toBe("\uFFFD");
    const e = new IncrementalDetokenizer(tok, 1);
    const text = [byteToken(0xff), ...tok.encode("ok", { bos: false })].map((t) => e.push(t)).join("");
    expect(text + e.flush()).toBe("\uFFFD ok");
  });
});
