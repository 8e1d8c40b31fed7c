// Streaming token -> text that never splits a UTF-8 character across two emitted strings.
import type { Tokenizer } from "./tokenizer.js";

/**
 * Turns a token stream into text. Bytes of a multi-byte character that arrive in separate byte
 * tokens are held until the character is complete; invalid bytes become U+FFFD.
 */
export class IncrementalDetokenizer {
  private readonly tokenizer: Tokenizer;
  private prevToken: number;
  // A streaming fatal=false decoder does exactly the holding and replacement we need.
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  /** `prevToken` is the token before the first pushed one (BOS for a fresh prompt). */
  constructor(tokenizer: Tokenizer, prevToken: number) {
    this.tokenizer = tokenizer;
    this.prevToken = prevToken;
  }

  /** Feed one token; returns the newly completed characters (possibly ""). */
  push(token: number): string {
    const bytes = this.tokenizer.pieceBytes(this.prevToken, token);
    this.prevToken = token;
    return this.decoder.decode(bytes, { stream: true });
  }

  /** End of stream: returns held bytes, an incomplete character becoming U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
