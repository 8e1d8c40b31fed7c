// Parse and validate wire requests into domain types at the gRPC boundary; every refusal names
// the field at fault. Nothing past this module sees a protobuf message.
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { KvtierError, invalidArgument } from "@kvtier/platform";
import { AckLevel, type PutHeader } from "@kvtier/proto";
import { KV_BLOCK_HEADER_BYTES, KvBlockError, MAX_KV_BLOCK_BYTES, getCodec } from "@kvtier/tensor";
import { blockKey, type BlockKey } from "@kvtier/kv-tiers";
import type { AckLevelName, PutIntent } from "./put-intent.js";
import { MAX_LEASE_ID_CHARS, MAX_LEASE_TTL_MS, type LeaseRequest } from "./lease-table.js";
import { refusePut } from "./put-refusal.js";

/** Most block hashes one Get, Lookup or Delete may name (a 256K-token chain at 16 tokens per block). */
export const MAX_HASHES_PER_REQUEST = 16_384;

/** The codec id, which must be one this build can verify. */
function parseCodec(codec: string, field: string, onUnknown: (problem: string, cause: unknown) => Error): string {
  if (codec === "") throw invalidArgument(field, "is required");
  try {
    getCodec(codec);
  } catch (err) {
    if (err instanceof KvBlockError) throw onUnknown(err.message, err);
    throw err;
  }
  return codec;
}

function parseAck(ack: AckLevel): AckLevelName {
  switch (ack) {
    case AckLevel.ACK_LEVEL_UNSPECIFIED:
    case AckLevel.ACK_LEVEL_MEMORY:
      return "memory";
    case AckLevel.ACK_LEVEL_DURABLE:
      return "durable";
    default:
      throw refusePut("invalid", "header.ack", `unknown ack level ${String(ack)}`);
  }
}

/** A PutHeader as a PutIntent; refuses bad hashes, unknown codecs and impossible sizes. */
export function parsePutHeader(h: PutHeader): PutIntent {
  if (h.blockHash.length !== BLOCK_HASH_BYTES) {
    throw refusePut("invalid", "header.block_hash", `must be ${BLOCK_HASH_BYTES} bytes, got ${h.blockHash.length}`);
  }
  if (h.codec === "") throw refusePut("invalid", "header.codec", "is required");
  const codec = parseCodec(h.codec, "header.codec", (problem, cause) => refusePut("unknown_codec", "header.codec", problem, cause));
  if (!Number.isSafeInteger(h.totalBytes) || h.totalBytes > MAX_KV_BLOCK_BYTES) {
    throw refusePut("oversized", "header.total_bytes", `${h.totalBytes} bytes exceed the block limit of ${MAX_KV_BLOCK_BYTES}`);
  }
  if (h.totalBytes < KV_BLOCK_HEADER_BYTES) {
    throw refusePut(
      "invalid",
      "header.total_bytes",
      `${h.totalBytes} bytes cannot hold a block (its header alone is ${KV_BLOCK_HEADER_BYTES})`,
    );
  }
  const parent = h.parentHash === undefined || h.parentHash.length === 0 ? undefined : h.parentHash;
  if (parent && parent.length !== BLOCK_HASH_BYTES) {
    throw refusePut("invalid", "header.parent_hash", `must be ${BLOCK_HASH_BYTES} bytes or empty, got ${parent.length}`);
  }
  return {
    key: blockKey(h.blockHash, codec),
    totalBytes: h.totalBytes,
    ack: parseAck(h.ack),
    parent: parent && Uint8Array.from(parent),
    requestScoped: h.requestScoped,
  };
}

/** The keys of a Get, Lookup or Delete: every hash 16 bytes, a known codec, at most MAX_HASHES_PER_REQUEST. */
export function parseBlockKeys(hashes: Uint8Array[], codec: string): BlockKey[] {
  if (hashes.length > MAX_HASHES_PER_REQUEST) {
    throw invalidArgument("block_hashes", `${hashes.length} hashes exceed the limit of ${MAX_HASHES_PER_REQUEST} per request`);
  }
  const c = parseCodec(
    codec,
    "codec",
    (problem, cause) => new KvtierError("INVALID_ARGUMENT", `codec: ${problem}`, { field: "codec", cause }),
  );
  return hashes.map((h, i) => {
    if (h.length !== BLOCK_HASH_BYTES) throw invalidArgument(`block_hashes[${i}]`, `must be ${BLOCK_HASH_BYTES} bytes, got ${h.length}`);
    return blockKey(h, c);
  });
}

/** The lease id of a Release: non-empty, at most MAX_LEASE_ID_CHARS. */
export function parseLeaseId(leaseId: string): string {
  if (leaseId === "") throw invalidArgument("lease_id", "is required");
  if (leaseId.length > MAX_LEASE_ID_CHARS)
    throw invalidArgument("lease_id", `${leaseId.length} characters exceed the limit of ${MAX_LEASE_ID_CHARS}`);
  return leaseId;
}

/** A Get's lease: undefined when `leaseId` is empty; no TTL (0 or unset) = the store's default. */
export function parseLease(leaseId: string, leaseTtlMs: number | undefined): LeaseRequest | undefined {
  if (leaseId === "") {
    if (leaseTtlMs) throw invalidArgument("lease_ttl_ms", "is set without a lease_id");
    return undefined;
  }
  if (leaseId.length > MAX_LEASE_ID_CHARS)
    throw invalidArgument("lease_id", `${leaseId.length} characters exceed the limit of ${MAX_LEASE_ID_CHARS}`);
  if (leaseTtlMs !== undefined && leaseTtlMs > MAX_LEASE_TTL_MS)
    throw invalidArgument("lease_ttl_ms", `${leaseTtlMs} ms exceeds the limit of ${MAX_LEASE_TTL_MS}`);
  return { id: leaseId, ttlMs: leaseTtlMs || undefined };
}
