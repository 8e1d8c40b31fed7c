// A live sequence's chain of block hashes: as generated tokens fill a block, its hash is the
// chained hash of the block before it, so the next turn of a conversation finds it by prefix.
import { chainNext } from "@kvtier/kv-router";

/** Tracks tokens and full-block hashes of one sequence as it grows. */
export class BlockChain {
  private readonly tokens: number[];
  private readonly hashes: Uint8Array[];

  constructor(
    private readonly namespaceHash: Uint8Array,
    promptTokens: readonly number[],
    promptHashes: readonly Uint8Array[],
    private readonly blockSize: number,
  ) {
    this.tokens = [...promptTokens];
    this.hashes = promptHashes.slice(0, Math.floor(promptTokens.length / blockSize));
  }

  /** Append a token whose KV is now in the pool; returns the index and hash of a block it completed. */
  append(token: number): { index: number; hash: Uint8Array } | undefined {
    this.tokens.push(token);
    if (this.tokens.length % this.blockSize !== 0) return undefined;
    const index = this.tokens.length / this.blockSize - 1;
    const parent = index > 0 ? this.hashes[index - 1] : this.namespaceHash;
    const hash = chainNext(parent, this.tokens.slice(index * this.blockSize));
    this.hashes.push(hash);
    return { index, hash };
  }

  get length(): number {
    return this.tokens.length;
  }
}
