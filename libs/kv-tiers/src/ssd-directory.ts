// The SSD tier's directory on start: its layout (blocks/, tmp/, LOCK), the lock that keeps two
// stores from sharing it, and the scan that rebuilds the index from the committed block files.
// Leftover temporary files (writes a crash interrupted) are deleted; a block file whose size is
// not the one its name records is not whole and is deleted too. Nothing is read: checksums are
// verified on every read instead (ssd-tier.ts).
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { errnoOf } from "./ssd-files.js";
import { parseBlockFileName, type BlockFileMeta } from "./ssd-file-name.js";

/** A committed block file found by the scan. */
export interface ScannedBlock extends BlockFileMeta {
  file: string;
  /** Last modification, ms since the epoch (oldest first is the index's initial order). */
  mtimeMs: number;
}

/** What a scan found. */
export interface SsdScan {
  blocks: ScannedBlock[];
  /** Temporary files of interrupted writes, deleted. */
  removedTemp: number;
  /** Block files not whole (size differs from their name), deleted. */
  removedPartial: number;
  /** Files in blocks/ that are not block files, left alone. */
  foreign: number;
}

/** Paths of the tier's directory. */
export interface SsdLayout {
  root: string;
  blocks: string;
  tmp: string;
  lock: string;
}

/** Another live process holds the directory. */
export class SsdDirectoryLockedError extends Error {
  readonly code = "SSD_DIR_LOCKED";
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`SSD directory ${dir} is in use by process ${pid}`);
    this.name = "SsdDirectoryLockedError";
  }
}

/** The layout under `root`. */
export const ssdLayout = (root: string): SsdLayout => ({
  root,
  blocks: join(root, "blocks"),
  tmp: join(root, "tmp"),
  lock: join(root, "LOCK"),
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === "EPERM";
  }
}

/** Create the layout and take the lock (a stale lock of a dead process is taken over). */
export async function lockSsdDirectory(layout: SsdLayout): Promise<void> {
  await fsp.mkdir(layout.blocks, { recursive: true });
  await fsp.mkdir(layout.tmp, { recursive: true });
  const held = Number((await fsp.readFile(layout.lock, "utf8").catch(() => "")).trim());
  if (Number.isSafeInteger(held) && held > 0 && held !== process.pid && alive(held)) throw new SsdDirectoryLockedError(layout.root, held);
  await fsp.writeFile(layout.lock, `${process.pid}\n`);
}

/** Release the lock if this process holds it. Never throws. */
export async function unlockSsdDirectory(layout: SsdLayout): Promise<void> {
  const held = Number((await fsp.readFile(layout.lock, "utf8").catch(() => "")).trim());
  if (held === process.pid) await fsp.rm(layout.lock, { force: true }).catch(() => undefined);
}

/** Clean tmp/ and list the committed blocks, oldest first. */
export async function scanSsdDirectory(layout: SsdLayout): Promise<SsdScan> {
  const scan: SsdScan = { blocks: [], removedTemp: 0, removedPartial: 0, foreign: 0 };
  for (const name of await fsp.readdir(layout.tmp)) {
    await fsp.rm(join(layout.tmp, name), { force: true, recursive: true });
    scan.removedTemp += 1;
  }
  for (const name of await fsp.readdir(layout.blocks)) {
    const meta = parseBlockFileName(name);
    const file = join(layout.blocks, name);
    if (!meta) {
      scan.foreign += 1;
      continue;
    }
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (st.size !== meta.totalBytes) {
      await fsp.rm(file, { force: true });
      scan.removedPartial += 1;
      continue;
    }
    scan.blocks.push({ ...meta, file, mtimeMs: st.mtimeMs });
  }
  scan.blocks.sort((a, b) => a.mtimeMs - b.mtimeMs);
  return scan;
}
