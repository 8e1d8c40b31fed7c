// Receive-side verification shared by every client data path: the block must verify (structure
// and CRC-32, verifyKvBlock) and carry the hash and codec that were asked for at its position.
import { KvBlockError, verifyKvBlock } from "@kvtier/tensor";

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/** True when `block` verifies and carries `hash` and `codec`; false for any KvBlockError. */
export function verifyReceivedBlock(block: Uint8Array, hash: Uint8Array, codec: string): boolean {
  try {
    const h = verifyKvBlock(block);
    return equalBytes(h.blockHash, hash) && h.codec === codec;
  } catch (err) {
    if (err instanceof KvBlockError) return false;
    throw err;
  }
}

/**
 * The verified leading part of `blocks` as a run: stops at the first block that fails
 * verification, counting it as corrupt.
 */
export function verifiedRun(
  blocks: Uint8Array[],
  hashes: readonly Uint8Array[],
  codec: string,
): { blocks: Uint8Array[]; bytes: number; corrupt: number } {
  const out: Uint8Array[] = [];
  let bytes = 0;
  for (let i = 0; i < blocks.length; i++) {
    if (!verifyReceivedBlock(blocks[i], hashes[i], codec)) return { blocks: out, bytes, corrupt: 1 };
    out.push(blocks[i]);
    bytes += blocks[i].length;
  }
  return { blocks: out, bytes, corrupt: 0 };
}
