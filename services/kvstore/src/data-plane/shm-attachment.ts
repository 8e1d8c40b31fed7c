// The store's side of a client's shared-memory arena: the file the client created in the shm
// directory, opened by name (checked: the store's prefix, no path, a regular file of the declared
// size), read for puts and written for gets at the offsets a request names. On detach the store
// closes it and removes the file too, so an arena does not outlive a client that crashed.
import { constants as fsc, promises as fsp } from "node:fs";
import { join } from "node:path";
import { ARENA_NAME_PATTERN, TransportError, readAllAt, writeAllAt, type AttachMeta } from "@kvtier/kv-transport";

/** Largest arena a client may attach. */
const MAX_ARENA_BYTES = 4 * 1024 * 1024 * 1024;

const refuse = (reason: string, field: string, message: string): TransportError =>
  new TransportError("INVALID_ARGUMENT", reason, field, message);

/** One attached arena. */
export class ShmAttachment {
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly fh: fsp.FileHandle,
    readonly arenaBytes: number,
  ) {}

  /** Open the client's arena `meta.name` in `dir`; refuses names without `prefix` and files that do not fit. */
  static async open(dir: string, prefix: string, meta: AttachMeta): Promise<ShmAttachment> {
    if (!meta.name.startsWith(prefix) || !ARENA_NAME_PATTERN.test(meta.name)) {
      throw refuse("invalid", "arena.name", `"${meta.name}" is not an arena name of this store (want ${prefix}<id>)`);
    }
    if (meta.arenaBytes < 1 || meta.arenaBytes > MAX_ARENA_BYTES)
      throw refuse("oversized", "arena.bytes", `${meta.arenaBytes} bytes is not an allowed arena size (1..${MAX_ARENA_BYTES})`);
    const path = join(dir, meta.name);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
    } catch (err) {
      throw new TransportError(
        "FAILED_PRECONDITION",
        "shm_unreachable",
        "arena.name",
        `cannot open ${path}: ${(err as Error).message} (not on this machine?)`,
        { cause: err },
      );
    }
    const st = await fh.stat();
    if (!st.isFile() || st.size < meta.arenaBytes) {
      await fh.close();
      throw refuse("mismatch", "arena.bytes", `${path} holds ${st.size} bytes, the client declared ${meta.arenaBytes}`);
    }
    return new ShmAttachment(path, fh, meta.arenaBytes);
  }

  /** Throw unless [offset, offset + bytes) lies inside the arena. */
  checkWindow(offset: number, bytes: number, field: string): void {
    if (offset + bytes > this.arenaBytes)
      throw refuse("out_of_range", field, `[${offset}, ${offset + bytes}) is outside the ${this.arenaBytes}-byte arena`);
  }

  /** Blocks of `sizes` laid out from `offset`, each in a buffer of its own (the store keeps them). */
  async readBlocks(offset: number, sizes: readonly number[]): Promise<Uint8Array[]> {
    const blocks = sizes.map((s) => Buffer.allocUnsafeSlow(s));
    await readAllAt(this.fh, blocks, offset);
    return blocks;
  }

  /** Write `blocks` one after the other from `offset` (one pwritev from the store's own buffers). */
  async writeBlocks(offset: number, blocks: readonly Uint8Array[]): Promise<void> {
    if (blocks.length > 0) await writeAllAt(this.fh, blocks, offset);
  }

  /** Close the file and remove it. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.path, { force: true }).catch(() => undefined);
  }
}
