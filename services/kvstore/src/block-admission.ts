// Whether received bytes may be stored under the key a client announced: the block must verify
// (structure and CRC-32; this is the check on the network receive path, DESIGN.md section 4),
// carry the announced hash and codec, and use the deployment's block size.
import { KvBlockError, verifyKvBlock, type KvBlockErrorCode, type KvBlockHeader } from "@kvtier/tensor";
import { hashHex } from "@kvtier/kv-tiers";
import type { PutIntent } from "./put-intent.js";
import { refusePut, type PutRefusalReason } from "./put-refusal.js";

const REFUSAL_OF: Record<KvBlockErrorCode, { reason: PutRefusalReason; field: string }> = {
  TRUNCATED: { reason: "truncated", field: "block" },
  SIZE_MISMATCH: { reason: "malformed", field: "block" },
  BAD_MAGIC: { reason: "malformed", field: "block.magic" },
  BAD_VERSION: { reason: "malformed", field: "block.layout_version" },
  UNKNOWN_CODEC: { reason: "unknown_codec", field: "block.codec" },
  BAD_CHECKSUM: { reason: "checksum", field: "block.checksum" },
  TOO_LARGE: { reason: "oversized", field: "block" },
};

/** What the store expects of every block it accepts. */
export interface AdmissionRules {
  /** Tokens per block in this deployment (KVTIER_BLOCK_SIZE). */
  blockSize: number;
}

/** The verified header of `bytes`, or a PutRefusedError naming what is wrong. */
export function admitBlock(intent: PutIntent, bytes: Uint8Array, rules: AdmissionRules): KvBlockHeader {
  let header: KvBlockHeader;
  try {
    header = verifyKvBlock(bytes);
  } catch (err) {
    if (!(err instanceof KvBlockError)) throw err;
    const r = REFUSAL_OF[err.code];
    throw refusePut(r.reason, r.field, err.message, err);
  }
  if (!Buffer.from(header.blockHash).equals(intent.key.hash)) {
    throw refusePut("mismatch", "header.block_hash", `${hashHex(intent.key.hash)} is not the block's hash ${hashHex(header.blockHash)}`);
  }
  if (header.codec !== intent.key.codec) {
    throw refusePut("mismatch", "header.codec", `"${intent.key.codec}" is not the block's codec "${header.codec}"`);
  }
  if (header.blockSize !== rules.blockSize) {
    throw refusePut("layout", "block.block_size", `${header.blockSize} tokens per block, this deployment uses ${rules.blockSize}`);
  }
  return header;
}
