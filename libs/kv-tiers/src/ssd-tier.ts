// The SSD tier: one file per block in a local directory, under a byte capacity. Writes are
// two-phase (ssd-files.ts), so only whole, synced blocks are ever visible; every read is verified
// (structure, CRC-32, hash, codec and size: this is the checksum check on the SSD read path), and a
// block that fails is deleted and reported as corrupt, never returned. The index lives in memory
// and is rebuilt from the directory on start (ssd-directory.ts).
import { promises as fsp } from "node:fs";
import { KvBlockError, verifyKvBlock } from "@kvtier/tensor";
import { blockKeyId, type BlockKey } from "./block-key.js";
import type { EvictedBlock, EvictionListener, TierPutOutcome, TierStore } from "./tier-store.js";
import type { EvictionPolicy } from "./eviction-policy.js";
import { PrefixAwarePolicy } from "./prefix-aware-policy.js";
import { lockSsdDirectory, scanSsdDirectory, ssdLayout, unlockSsdDirectory, type SsdLayout, type SsdScan } from "./ssd-directory.js";
import { blockFileName, type BlockFileMeta } from "./ssd-file-name.js";
import { errnoOf, fsyncDir, isNoSpace, readFileExactly, writeFileTwoPhase } from "./ssd-files.js";

/** Why an SSD write was not done: a full device, no room under the capacity, or another I/O error. */
export type SsdWriteFailure = "no_space" | "over_capacity" | "io";

/** An SSD write that did not happen; nothing of it is visible. */
export class SsdWriteError extends Error {
  constructor(
    readonly code: SsdWriteFailure,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts);
    this.name = "SsdWriteError";
  }
}

/** What a read found: verified bytes, nothing, or a corrupt block (now deleted). */
export type SsdRead = { kind: "hit"; bytes: Uint8Array } | { kind: "miss" } | { kind: "corrupt"; problem: string };

/** Options of {@link SsdTier.open}. */
export interface SsdTierOptions {
  /** The tier's directory (created if missing; locked against other stores). */
  dir: string;
  /** Bytes of block files the tier may hold. */
  capacityBytes: number;
  /** Victim order. @default a new PrefixAwarePolicy */
  policy?: EvictionPolicy;
  /** Called with background failures (an unlink that failed). @default ignored */
  onError?: (err: unknown, what: string) => void;
}

interface Entry extends BlockFileMeta {
  file: string;
  /** Its rename is known to be on disk (directory fsynced, or found by a scan). */
  durable: boolean;
}

/** Block files on local disk; the accounting (used + being written) never exceeds capacity. */
export class SsdTier implements TierStore {
  readonly tier = "ssd" as const;
  private readonly entries = new Map<string, Entry>();
  private readonly writing = new Map<string, Promise<TierPutOutcome>>();
  /** Ids deleted while their write was in flight: the file goes once written. */
  private readonly cancelled = new Set<string>();
  private readonly background = new Set<Promise<unknown>>();
  /** Unlinks in flight by file path: a new write of the same block waits for its old file's unlink. */
  private readonly unlinking = new Map<string, Promise<void>>();
  private readonly listeners: EvictionListener[] = [];
  private used = 0;
  private reserved = 0;

  private constructor(
    private readonly layout: SsdLayout,
    readonly capacityBytes: number,
    private readonly policy: EvictionPolicy,
    private readonly onError: (err: unknown, what: string) => void,
    /** What the start-up scan found. */
    readonly startup: SsdScan,
  ) {}

  /** Lock and scan `opts.dir`, rebuilding the index; evicts down to capacity if it shrank. */
  static async open(opts: SsdTierOptions): Promise<SsdTier> {
    if (!Number.isSafeInteger(opts.capacityBytes) || opts.capacityBytes < 1) {
      throw new RangeError(`capacityBytes must be a positive integer, got ${opts.capacityBytes}`);
    }
    const layout = ssdLayout(opts.dir);
    await lockSsdDirectory(layout);
    const scan = await scanSsdDirectory(layout);
    const tier = new SsdTier(layout, opts.capacityBytes, opts.policy ?? new PrefixAwarePolicy(), opts.onError ?? (() => undefined), scan);
    for (const b of scan.blocks) tier.index({ ...b, durable: true });
    tier.makeRoom(0);
    return tier;
  }

  get usedBytes(): number {
    return this.used;
  }

  get blockCount(): number {
    return this.entries.size;
  }

  has(key: BlockKey): boolean {
    return this.entries.has(key.id);
  }

  /** True when a block of another size or checksum is held under `key` (no read needed). */
  differs(key: BlockKey, totalBytes: number, checksum: number): boolean {
    const e = this.entries.get(key.id);
    return e !== undefined && (e.totalBytes !== totalBytes || e.checksum !== checksum >>> 0);
  }

  /** The parent recorded for a held block. */
  parentOf(key: BlockKey): Uint8Array | undefined {
    return this.entries.get(key.id)?.parent;
  }

  /** Read and verify a block, counting a use. A block that fails verification is deleted. */
  async read(key: BlockKey): Promise<SsdRead> {
    const e = this.entries.get(key.id);
    if (!e) return { kind: "miss" };
    this.policy.pin(key.id);
    try {
      let bytes: Buffer | undefined;
      try {
        bytes = await readFileExactly(e.file, e.totalBytes);
      } catch (err) {
        this.dropIfCurrent(e, true);
        return { kind: "corrupt", problem: `read failed: ${errnoOf(err) ?? String(err)}` };
      }
      if (!bytes) {
        this.dropIfCurrent(e, false);
        return { kind: "miss" };
      }
      const problem = problemOf(bytes, e);
      if (problem) {
        this.dropIfCurrent(e, true);
        return { kind: "corrupt", problem };
      }
      this.policy.touch(key.id);
      return { kind: "hit", bytes };
    } finally {
      this.policy.unpin(key.id);
    }
  }

  /**
   * Write a verified block (two-phase). `durable`: the directory is fsynced too, so the block
   * survives a crash once this resolves. An identical block already held is "existing" (made
   * durable if asked); different bytes under the key are a "conflict". Throws SsdWriteError.
   */
  async write(
    key: BlockKey,
    bytes: Uint8Array,
    meta: { parent: Uint8Array | undefined; checksum: number; durable: boolean },
  ): Promise<TierPutOutcome> {
    const inflight = this.writing.get(key.id);
    if (inflight) {
      await inflight.catch(() => undefined);
      return this.write(key, bytes, meta);
    }
    const e = this.entries.get(key.id);
    if (e) {
      if (this.differs(key, bytes.byteLength, meta.checksum)) return "conflict";
      this.policy.touch(key.id);
      if (meta.durable && !e.durable) {
        await fsyncDir(this.layout.blocks);
        e.durable = true;
      }
      return "existing";
    }
    const p = this.writeNew(key, bytes, meta);
    this.writing.set(key.id, p);
    try {
      return await p;
    } finally {
      this.writing.delete(key.id);
    }
  }

  delete(key: BlockKey): boolean {
    if (this.writing.has(key.id)) this.cancelled.add(key.id);
    const e = this.entries.get(key.id);
    if (!e) return false;
    this.drop(e, true);
    return true;
  }

  *keys(): IterableIterator<BlockKey> {
    for (const e of this.entries.values()) yield e.key;
  }

  pin(key: BlockKey): void {
    this.policy.pin(key.id);
  }

  unpin(key: BlockKey): void {
    this.policy.unpin(key.id);
  }

  onEvicted(listener: EvictionListener): void {
    this.listeners.push(listener);
  }

  /** Wait for writes and unlinks in flight, then release the directory. Idempotent. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writing.values(), ...this.background]);
    await unlockSsdDirectory(this.layout);
  }

  private async writeNew(
    key: BlockKey,
    bytes: Uint8Array,
    meta: { parent: Uint8Array | undefined; checksum: number; durable: boolean },
  ): Promise<TierPutOutcome> {
    const size = bytes.byteLength;
    this.makeRoom(size);
    if (this.used + this.reserved + size > this.capacityBytes) {
      throw new SsdWriteError(
        "over_capacity",
        `no room for ${size} bytes in the SSD tier (capacity ${this.capacityBytes}, the rest leased or being written)`,
      );
    }
    const entry: Entry = { key, parent: meta.parent, totalBytes: size, checksum: meta.checksum >>> 0, file: "", durable: meta.durable };
    entry.file = `${this.layout.blocks}/${blockFileName(entry)}`;
    this.reserved += size;
    // a delete of the same block may still be unlinking this very name: renaming first would lose the new file
    await this.unlinking.get(entry.file);
    try {
      await writeFileTwoPhase(this.layout.tmp, entry.file, bytes, { syncDir: meta.durable ? this.layout.blocks : undefined });
    } catch (err) {
      const code = isNoSpace(err) ? "no_space" : "io";
      throw new SsdWriteError(code, `SSD write of ${size} bytes failed: ${errnoOf(err) ?? String(err)}`, { cause: err });
    } finally {
      this.reserved -= size;
    }
    if (this.cancelled.delete(key.id)) {
      this.unlink(entry.file);
      return "created";
    }
    this.index(entry);
    return "created";
  }

  private index(e: Entry): void {
    this.entries.set(e.key.id, e);
    this.used += e.totalBytes;
    this.policy.insert(e.key.id, e.parent && blockKeyId(e.parent, e.key.codec));
  }

  /** Evict until `incoming` more bytes fit beside what is held and being written. */
  private makeRoom(incoming: number): void {
    const victims: EvictedBlock[] = [];
    while (this.used + this.reserved + incoming > this.capacityBytes) {
      const v = this.policy.evict();
      if (!v) break;
      const e = this.entries.get(v.id);
      if (!e) continue;
      this.drop(e, true, false);
      victims.push({ key: e.key, parent: e.parent, bytes: undefined, accesses: v.accesses });
    }
    if (victims.length > 0) for (const l of this.listeners) l(victims);
  }

  private dropIfCurrent(e: Entry, unlink: boolean): void {
    if (this.entries.get(e.key.id) === e) this.drop(e, unlink);
  }

  private drop(e: Entry, unlink: boolean, fromPolicy = true): void {
    this.entries.delete(e.key.id);
    if (fromPolicy) this.policy.remove(e.key.id);
    this.used -= e.totalBytes;
    if (unlink) this.unlink(e.file);
  }

  private unlink(file: string): void {
    const p: Promise<void> = fsp
      .rm(file, { force: true })
      .catch((err: unknown) => this.onError(err, `unlink ${file}`))
      .finally(() => {
        this.background.delete(p);
        if (this.unlinking.get(file) === p) this.unlinking.delete(file);
      });
    this.background.add(p);
    this.unlinking.set(file, p);
  }
}

/** Why `bytes` are not the block `e` names, or undefined when they are. */
function problemOf(bytes: Uint8Array, e: Entry): string | undefined {
  if (bytes.byteLength !== e.totalBytes) return `${bytes.byteLength} bytes, the index says ${e.totalBytes}`;
  try {
    const h = verifyKvBlock(bytes);
    if (!Buffer.from(h.blockHash).equals(e.key.hash)) return "the block carries another hash";
    if (h.codec !== e.key.codec) return `the block carries codec ${h.codec}`;
    return undefined;
  } catch (err) {
    if (err instanceof KvBlockError) return `${err.code}: ${err.message}`;
    throw err;
  }
}
