// Whether this store offers the co-located path, and how a client proves it shares the store's
// memory: a probe file in the shm directory holding a random token the store also sends in Info.
// Only a process that sees the same /dev/shm can read it. Absent or unwritable directory: no
// co-located path is announced (clients use TCP), and the store says why in its log.
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join } from "node:path";

/** Bytes of the probe token. */
const PROBE_TOKEN_BYTES = 16;

/** The co-located path as announced. */
export class ShmAnnouncement {
  private constructor(
    readonly dir: string,
    /** Arena file names start with this: "kvtier-<namespace>-". */
    readonly prefix: string,
    readonly probeFile: string,
    readonly token: Uint8Array,
  ) {}

  /** Write the probe into `dir`; resolves `{ unavailable: reason }` when `dir` cannot be used. */
  static async create(dir: string, namespace: string, storeId: string): Promise<ShmAnnouncement | { unavailable: string }> {
    const token = randomBytes(PROBE_TOKEN_BYTES);
    // A dot keeps the probe out of the arena name pattern, so no client can attach it.
    const probeFile = `kvtier-${namespace}.probe-${storeId}`;
    const tmp = join(dir, `${probeFile}.${process.pid}.tmp`);
    try {
      const st = await fsp.stat(dir);
      if (!st.isDirectory()) return { unavailable: `${dir} is not a directory` };
      await fsp.writeFile(tmp, token, { mode: 0o644 });
      await fsp.rename(tmp, join(dir, probeFile));
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      return { unavailable: `${dir}: ${(err as Error).message}` };
    }
    return new ShmAnnouncement(dir, `kvtier-${namespace}-`, probeFile, token);
  }

  /** Remove the probe file. Never throws. */
  async close(): Promise<void> {
    await fsp.rm(join(this.dir, this.probeFile), { force: true }).catch(() => undefined);
  }
}
