// A client's shared-memory arena: one file in the store's shm directory (tmpfs, /dev/shm), cut
// into fixed slots so several runs can be in flight. For a put the client writes blocks into a
// slot and the store reads them; for a get the store writes into a slot and the client reads.
// Node cannot map memory, so both sides use pwritev/preadv on the file: tmpfs makes those plain
// memory copies (no socket, no TCP stack), done on libuv's thread pool off the event loop.
import { randomBytes } from "node:crypto";
import { constants as fsc, promises as fsp } from "node:fs";
import { join } from "node:path";
import { TransportError } from "./transport-error.js";

/** Bytes of one slot: the largest block always fits in one. */
export const DEFAULT_SHM_SLOT_BYTES = 64 * 1024 * 1024;
/** Slots per arena (runs in flight at once); the file is sparse, pages appear only when written. */
export const DEFAULT_SHM_SLOTS = 4;
/** Most buffers per preadv/pwritev call (Linux IOV_MAX). */
const MAX_IOVECS = 1024;
/** Arena file names: the store's prefix, then this; nothing else may appear in them. */
export const ARENA_NAME_PATTERN = /^kvtier-[A-Za-z0-9_-]{1,64}-[A-Za-z0-9_-]{1,80}$/;

/** Where arenas live and how they are named, as the store announces it. */
export interface ShmLocation {
  /** Directory of the arenas (the store's KVTIER_KVSTORE_SHM_DIR, normally /dev/shm). */
  dir: string;
  /** File name prefix, "kvtier-<namespace>-". */
  prefix: string;
}

/** A slot: a region of the arena one request owns until it releases it. */
export interface ArenaSlot {
  readonly index: number;
  readonly offset: number;
  readonly bytes: number;
}

/** Write `bufs` at `position` with as few pwritev calls as the kernel allows. */
export async function writeAllAt(fh: fsp.FileHandle, bufs: readonly Uint8Array[], position: number): Promise<number> {
  let at = position;
  for (let i = 0; i < bufs.length; i += MAX_IOVECS) {
    const part = bufs.slice(i, i + MAX_IOVECS);
    const want = part.reduce((a, b) => a + b.length, 0);
    const { bytesWritten } = await fh.writev(part as Uint8Array[], at);
    if (bytesWritten !== want)
      throw new TransportError("INTERNAL", "short_write", "arena", `wrote ${bytesWritten} of ${want} bytes at ${at}`);
    at += want;
  }
  return at - position;
}

/** Fill `bufs` from `position`; throws when the file holds fewer bytes. */
export async function readAllAt(fh: fsp.FileHandle, bufs: readonly Uint8Array[], position: number): Promise<number> {
  let at = position;
  for (let i = 0; i < bufs.length; i += MAX_IOVECS) {
    const part = bufs.slice(i, i + MAX_IOVECS);
    const want = part.reduce((a, b) => a + b.length, 0);
    const { bytesRead } = await fh.readv(part as Uint8Array[], at);
    if (bytesRead !== want) throw new TransportError("INTERNAL", "short_read", "arena", `read ${bytesRead} of ${want} bytes at ${at}`);
    at += want;
  }
  return at - position;
}

/** The client's arena file. Owned by one ShmBlockPath; {@link close} removes the file. */
export class ShmArena {
  private readonly free: number[];
  private readonly waiters: { resolve: (slot: ArenaSlot) => void; reject: (err: Error) => void }[] = [];
  private closed = false;
  private live: number;

  private constructor(
    /** Absolute path of the file. */
    readonly path: string,
    /** File name (what the store is told). */
    readonly name: string,
    readonly fh: fsp.FileHandle,
    readonly slotBytes: number,
    readonly slots: number,
  ) {
    this.free = Array.from({ length: slots }, (_v, i) => slots - 1 - i);
    this.live = slots;
  }

  /** Create a new arena file (mode 0600, sparse) under `loc`. */
  static async create(loc: ShmLocation, slotBytes = DEFAULT_SHM_SLOT_BYTES, slots = DEFAULT_SHM_SLOTS): Promise<ShmArena> {
    const name = `${loc.prefix}${process.pid}-${randomBytes(6).toString("hex")}`;
    if (!ARENA_NAME_PATTERN.test(name))
      throw new TransportError("FAILED_PRECONDITION", "shm_name", "shm.prefix", `arena name "${name}" is not allowed`);
    const path = join(loc.dir, name);
    const fh = await fsp.open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      await fh.truncate(slotBytes * slots);
    } catch (err) {
      await fh.close();
      await fsp.rm(path, { force: true });
      throw err;
    }
    return new ShmArena(path, name, fh, slotBytes, slots);
  }

  get arenaBytes(): number {
    return this.slotBytes * this.slots;
  }

  /** Slots not retired. */
  get liveSlots(): number {
    return this.live;
  }

  /** A free slot, waiting (FIFO) while all are in use; rejects DEADLINE_EXCEEDED at `deadline`. */
  acquire(deadline: number): Promise<ArenaSlot> {
    if (this.closed || this.live === 0)
      return Promise.reject(new TransportError("CANCELLED", "closed", "", "the arena is closed or has no usable slot"));
    const i = this.free.pop();
    if (i !== undefined) return Promise.resolve(this.slot(i));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (slot: ArenaSlot) => {
          clearTimeout(timer);
          resolve(slot);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(
        () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new TransportError("DEADLINE_EXCEEDED", "deadline", "", "no free arena slot before the deadline"));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(waiter);
    });
  }

  /** Give a slot back once its request was answered. */
  release(slot: ArenaSlot): void {
    const next = this.waiters.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot.index);
  }

  /**
   * Never use this slot again: its request ended without an answer (deadline, lost connection),
   * so the store may still read or write it.
   */
  retire(_slot: ArenaSlot): void {
    this.live -= 1;
    if (this.live === 0)
      for (const w of this.waiters.splice(0)) w.reject(new TransportError("CANCELLED", "closed", "", "every arena slot was retired"));
  }

  /** Close and remove the file. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new TransportError("CANCELLED", "closed", "", "the arena is closed"));
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.path, { force: true }).catch(() => undefined);
  }

  private slot(index: number): ArenaSlot {
    return { index, offset: index * this.slotBytes, bytes: this.slotBytes };
  }
}

/** True when `dir/probeFile` holds exactly `token`: proof that this process sees the store's shm dir. */
export async function probeSharedMemory(dir: string, probeFile: string, token: Uint8Array): Promise<boolean> {
  if (token.length === 0 || probeFile.includes("/")) return false;
  try {
    const got = await fsp.readFile(join(dir, probeFile));
    return Buffer.from(token).equals(got);
  } catch {
    return false;
  }
}
