// Reassembles one put's chunks into the block's bytes, enforcing the chunk limit and the size the
// PutHeader declared. Pure: the gRPC handler feeds it.
import { MAX_CHUNK_BYTES } from "@kvtier/kv-transport";
import type { PutIntent } from "./put-intent.js";
import { refusePut } from "./put-refusal.js";

/** Collects exactly `intent.totalBytes` bytes in chunks of at most MAX_CHUNK_BYTES. */
export class PutAssembler {
  private readonly buf: Uint8Array;
  private filled = 0;

  constructor(readonly intent: PutIntent) {
    // Not zero-filled and not from the shared pool: every byte is written before finish() hands
    // it out, and a pooled slab would keep unrelated memory alive inside the tier.
    this.buf = Buffer.allocUnsafeSlow(intent.totalBytes);
  }

  /** Bytes received so far. */
  get receivedBytes(): number {
    return this.filled;
  }

  append(chunk: Uint8Array): void {
    if (chunk.length > MAX_CHUNK_BYTES) {
      throw refusePut("oversized", "chunk", `${chunk.length} bytes exceed the chunk limit of ${MAX_CHUNK_BYTES}`);
    }
    if (this.filled + chunk.length > this.intent.totalBytes) {
      throw refusePut(
        "overrun",
        "chunk",
        `${this.filled + chunk.length} bytes received, more than header.total_bytes=${this.intent.totalBytes}`,
      );
    }
    this.buf.set(chunk, this.filled);
    this.filled += chunk.length;
  }

  /** The whole block; refuses a stream that ended short. */
  finish(): Uint8Array {
    if (this.filled < this.intent.totalBytes) {
      throw refusePut("truncated", "chunk", `the stream ended after ${this.filled} of header.total_bytes=${this.intent.totalBytes} bytes`);
    }
    return this.buf;
  }
}
