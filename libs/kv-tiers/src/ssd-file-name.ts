// Names of block files in the SSD tier's directory. A name carries everything the index needs,
// so a restart rebuilds the index from one directory listing (plus a stat per file for its size
// and age, no reads):
//   <hash hex>.<parent hash hex | "root">.<total bytes>.<crc32 hex>.<codec, URI-encoded>.kvb
// The size lets the scan drop a file that is not whole; the CRC (the block header's checksum)
// lets a put of different bytes under the same key be told apart without reading the file.
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import { blockKey, hashHex, type BlockKey } from "./block-key.js";

/** Extension of committed block files. */
const BLOCK_FILE_EXTENSION = ".kvb";
/** Parent field of a block with no known parent. */
const NO_PARENT = "root";
const HEX_HASH = `[0-9a-f]{${2 * BLOCK_HASH_BYTES}}`;
const NAME_PATTERN = new RegExp(
  `^(${HEX_HASH})\\.(${HEX_HASH}|${NO_PARENT})\\.(\\d{1,12})\\.([0-9a-f]{8})\\.(.+)\\${BLOCK_FILE_EXTENSION}$`,
);

/** What a block file's name says about it. */
export interface BlockFileMeta {
  key: BlockKey;
  parent: Uint8Array | undefined;
  /** The encoded block's length, header included. */
  totalBytes: number;
  /** The block header's CRC-32. */
  checksum: number;
}

/** The file name of a block. */
export function blockFileName(m: BlockFileMeta): string {
  const parent = m.parent ? hashHex(m.parent) : NO_PARENT;
  const crc = (m.checksum >>> 0).toString(16).padStart(8, "0");
  return `${hashHex(m.key.hash)}.${parent}.${m.totalBytes}.${crc}.${encodeURIComponent(m.key.codec)}${BLOCK_FILE_EXTENSION}`;
}

/** Parse a file name; undefined when it is not a block file's. */
export function parseBlockFileName(name: string): BlockFileMeta | undefined {
  const m = NAME_PATTERN.exec(name);
  if (!m) return undefined;
  let codec: string;
  try {
    codec = decodeURIComponent(m[5]);
  } catch {
    return undefined;
  }
  return {
    key: blockKey(Buffer.from(m[1], "hex"), codec),
    parent: m[2] === NO_PARENT ? undefined : new Uint8Array(Buffer.from(m[2], "hex")),
    totalBytes: Number(m[3]),
    checksum: parseInt(m[4], 16),
  };
}
