// Block identity (DESIGN.md §3): a namespace hash per (model, KV layout, block size, tenant), then a
// chain h_i = H(h_{i-1} || tokens of block i) truncated to 128 bits. Equal hashes mean equal
// prefixes in the same namespace, so a block hash alone identifies a shareable prefix.
// Does not tokenize, store or look anything up.
import * as crypto from "node:crypto";
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { PrefixIndexError } from "./errors.js";

/** A 128-bit chained block hash (16 bytes). */
export type BlockHash = Uint8Array;

/** Name of the hashing scheme; every worker and store registers it, and mixing schemes is refused. */
export const HASH_SCHEME = "sha256-128-chain-v1";
/** Length of a block hash, in bytes (the first 16 bytes of a SHA-256 digest); @kvtier/core defines it. */
export { BLOCK_HASH_BYTES };
/** Largest accepted block size (and partial block length), in tokens. */
export const MAX_BLOCK_SIZE_TOKENS = 4096;
/** Largest accepted model id or tenant salt in a namespace, in UTF-8 bytes. */
export const MAX_NAMESPACE_FIELD_BYTES = 1024;

/** What a namespace hash covers: blocks from different namespaces never share a hash. */
export interface BlockNamespace {
  /** Model id including its weights' identity, e.g. `stories260K@b0a507e7`. */
  modelId: string;
  /** KV block layout version (the format a block's bytes follow). */
  layoutVersion: number;
  /** Tokens per full block. */
  blockSize: number;
  /** The tenant's salt from {@link tenantSalt}; derived by the server, never read from a request. */
  tenantSalt: string;
}

const UINT32_LIMIT = 2 ** 32;
const HEX_HASH = new RegExp(`^[0-9a-fA-F]{${2 * BLOCK_HASH_BYTES}}$`);

// crypto.hash (Node >= 20.12) skips the Hash object and is ~30% faster per block than createHash.
const sha256: (data: Uint8Array) => Uint8Array =
  typeof crypto.hash === "function"
    ? (data) => crypto.hash("sha256", data, "buffer")
    : (data) => crypto.createHash("sha256").update(data).digest();

/** Throws unless `h` is a 16-byte Uint8Array. */
export function assertBlockHash(h: unknown, field: string): asserts h is BlockHash {
  if (!(h instanceof Uint8Array) || h.length !== BLOCK_HASH_BYTES) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new PrefixIndexError("INVALID_BLOCK_HASH", field, `${field}: a block hash is ${BLOCK_HASH_BYTES} bytes, got ${got}`);
  }
}

/**
 * Throws unless `hashes` is an array of 16-byte Uint8Arrays; the error names `${field}[i]` of the
 * first bad one. The name is built only on failure: routing checks every hash of every request.
 */
export function assertBlockHashes(hashes: readonly unknown[], field: string): asserts hashes is readonly BlockHash[] {
  if (!Array.isArray(hashes)) throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be an array`);
  for (let i = 0; i < hashes.length; i++) {
    const h: unknown = hashes[i];
    if (!(h instanceof Uint8Array) || h.length !== BLOCK_HASH_BYTES) assertBlockHash(h, `${field}[${i}]`);
  }
}

function assertIntegerIn(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function assertTextField(value: string, field: string): Buffer {
  if (typeof value !== "string" || value.length === 0) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be a non-empty string`);
  }
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > MAX_NAMESPACE_FIELD_BYTES) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} is ${bytes.length} bytes, limit ${MAX_NAMESPACE_FIELD_BYTES}`);
  }
  return bytes;
}

/** A plain 16-byte Uint8Array copy (not a Buffer view that would pin the 32-byte digest). */
function truncate(digest: Uint8Array): BlockHash {
  const out = new Uint8Array(BLOCK_HASH_BYTES);
  out.set(digest.subarray(0, BLOCK_HASH_BYTES));
  return out;
}

/** Hash of `parent || tokens[start, start + count)` with every token checked on the way. */
function hashBlock(input: Buffer, parent: BlockHash, tokens: ArrayLike<number>, start: number, count: number): BlockHash {
  return truncate(digestBlock(input, parent, tokens, start, count));
}

/** A buffer for one block's hash input (parent, then `count` tokens); a chain reuses one for all its blocks. */
const blockInput = (count: number): Buffer => Buffer.allocUnsafe(BLOCK_HASH_BYTES + 4 * count);

/** The SHA-256 digest (32 bytes) behind {@link hashBlock}, over parent (16 bytes) then tokens (uint32 LE) written into `input`. */
function digestBlock(input: Buffer, parent: BlockHash, tokens: ArrayLike<number>, start: number, count: number): Uint8Array {
  input.set(parent, 0);
  for (let j = 0; j < count; j++) {
    const t = tokens[start + j];
    if (t >>> 0 !== t) {
      throw new PrefixIndexError("INVALID_TOKEN", `tokens[${start + j}]`, `tokens[${start + j}] = ${t} is not an integer in [0, 2^32)`);
    }
    input.writeUInt32LE(t, BLOCK_HASH_BYTES + 4 * j);
  }
  return sha256(input.subarray(0, BLOCK_HASH_BYTES + 4 * count));
}

/**
 * The chain's root h_0: the first 16 bytes of SHA-256 over the scheme name and every namespace
 * field, each length-prefixed (uint32 LE), so no two distinct namespaces encode alike.
 * @throws {PrefixIndexError} `INVALID_ARGUMENT` naming the field when one is empty or out of range.
 */
export function namespaceHash(ns: BlockNamespace): BlockHash {
  const scheme = Buffer.from(HASH_SCHEME, "utf8");
  const model = assertTextField(ns.modelId, "modelId");
  const salt = assertTextField(ns.tenantSalt, "tenantSalt");
  assertIntegerIn(ns.layoutVersion, 0, UINT32_LIMIT - 1, "layoutVersion");
  assertIntegerIn(ns.blockSize, 1, MAX_BLOCK_SIZE_TOKENS, "blockSize");
  const parts: Buffer[] = [];
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    return b;
  };
  for (const text of [scheme, model]) parts.push(u32(text.length), text);
  parts.push(u32(ns.layoutVersion), u32(ns.blockSize), u32(salt.length), salt);
  return truncate(sha256(Buffer.concat(parts)));
}

/**
 * A tenant's namespace salt: HMAC-SHA256(serverSecret, tenantId) as lower-case hex. The server
 * derives it from the authenticated tenant, so a request cannot choose (or guess) another
 * tenant's namespace, and two tenants never share a block.
 * @throws {PrefixIndexError} `INVALID_ARGUMENT` when either input is empty.
 */
export function tenantSalt(tenantId: string, serverSecret: string): string {
  if (typeof tenantId !== "string" || tenantId.length === 0) {
    throw new PrefixIndexError("INVALID_ARGUMENT", "tenantId", "tenantId must be a non-empty string");
  }
  if (typeof serverSecret !== "string" || serverSecret.length === 0) {
    throw new PrefixIndexError("INVALID_ARGUMENT", "serverSecret", "serverSecret must be a non-empty string");
  }
  return crypto.createHmac("sha256", serverSecret).update(tenantId, "utf8").digest("hex");
}

/**
 * The next link of a chain: first 16 bytes of SHA-256(parent || tokens as uint32 LE). Used for
 * full blocks and for a partial tail block; a tail has fewer tokens, so its hash never equals a
 * full block's.
 * @throws {PrefixIndexError} `INVALID_BLOCK_HASH`, `INVALID_TOKEN`, or `INVALID_ARGUMENT` for an
 * empty or over-long token list.
 */
export function chainNext(parent: BlockHash, tokens: ArrayLike<number>): BlockHash {
  assertBlockHash(parent, "parent");
  assertIntegerIn(tokens.length, 1, MAX_BLOCK_SIZE_TOKENS, "tokens.length");
  return hashBlock(blockInput(tokens.length), parent, tokens, 0, tokens.length);
}

/**
 * Hashes of every FULL block of `tokens` under namespace root `ns`, in chain order. The partial
 * tail (`tokens.length % blockSize` tokens) is left out: only full blocks are shared.
 * @throws {PrefixIndexError} as {@link chainNext}, and `INVALID_ARGUMENT` for a bad `blockSize`.
 */
export function chainBlockHashes(ns: BlockHash, tokens: ArrayLike<number>, blockSize: number): BlockHash[] {
  return hashChain(ns, tokens, blockSize).hashes as BlockHash[];
}

/**
 * {@link chainBlockHashes}, marked as a true chain for {@link PrefixIndex.match} (see
 * {@link PackedHashes.chained}).
 * @throws as {@link chainBlockHashes}.
 */
export function hashChain(ns: BlockHash, tokens: ArrayLike<number>, blockSize: number): PackedHashes {
  assertBlockHash(ns, "ns");
  assertIntegerIn(blockSize, 1, MAX_BLOCK_SIZE_TOKENS, "blockSize");
  const full = Math.floor(tokens.length / blockSize);
  const out = new Array<BlockHash>(full);
  const input = blockInput(blockSize);
  let parent = ns;
  for (let i = 0; i < full; i++) {
    parent = hashBlock(input, parent, tokens, i * blockSize, blockSize);
    out[i] = parent;
  }
  return new PackedHashes(out, true);
}

/**
 * A prompt's block hashes as {@link PrefixIndex.match} takes them, with whether they are a true
 * chain ({@link hashChain} gives one).
 */
export class PackedHashes {
  /** Number of hashes. */
  readonly length: number;

  /** Wraps `hashes`; build one with {@link PackedHashes.from} or {@link hashChain}, which check them. */
  constructor(
    /** The hashes, in chain order. */
    readonly hashes: readonly BlockHash[],
    /**
     * Whether the hashes are a true chain, each computed from the one before it ({@link hashChain}'s
     * are): a walk that finds two of them in consecutive records of the index then knows the second
     * record's block is the first's child, and keeps that link for later walks.
     */
    readonly chained = false,
  ) {
    this.length = hashes.length;
  }

  /**
   * Wraps `hashes` (each checked to be a 16-byte hash). Pass `chained` only for a true chain (see
   * the constructor): a walk would keep links the hashes claim.
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` when `hashes` is not an array, `INVALID_BLOCK_HASH` naming the bad index.
   */
  static from(hashes: readonly BlockHash[], chained = false): PackedHashes {
    assertBlockHashes(hashes, "hashes");
    return new PackedHashes(hashes, chained);
  }
}

/** A block hash as 32 lower-case hex digits (logs, snapshots, map keys in tests). */
export function hashHex(h: BlockHash): string {
  assertBlockHash(h, "hash");
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString("hex");
}

/**
 * Parses 32 hex digits (either case) into a block hash.
 * @throws {PrefixIndexError} `INVALID_BLOCK_HASH` for any other string.
 */
export function hashFromHex(s: string): BlockHash {
  if (typeof s !== "string" || !HEX_HASH.test(s)) {
    const shown = typeof s === "string" ? JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s) : typeof s;
    throw new PrefixIndexError("INVALID_BLOCK_HASH", "hex", `expected ${2 * BLOCK_HASH_BYTES} hex digits, got ${shown}`);
  }
  return truncate(Buffer.from(s, "hex"));
}

/**
 * Blocks of a `promptTokens`-token prompt a request may reuse: at least one prompt token is
 * always computed, because sampling needs the last position's logits.
 */
export const reusableBlocks = (promptTokens: number, blockSize: number): number => Math.floor((promptTokens - 1) / blockSize);
