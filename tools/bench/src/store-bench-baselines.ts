// The baselines of `pnpm bench store`, measured in the same run as the store: the loopback (a
// plain TCP socket pair between this process and a peer process pushing the same bytes), a
// plain memory copy over a working set as large as the one moved, and plain files written with
// fdatasync and read back.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { promises as fsp } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { measureOps, streamFigure, type Figure } from "./store-bench-measure.js";

const PEER = fileURLToPath(new URL("./tcp-peer.js", import.meta.url));

/** The loopback peer process. */
export class TcpPeer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<TcpPeer> {
    const child = spawn(process.execPath, [PEER], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve));
    return new TcpPeer(child, (JSON.parse(line) as { port: number }).port);
  }

  /** Push `bytes` to the peer in writes of one block each, from `blocks`; timed until the peer has them all. */
  async put(blocks: Uint8Array[], bytes: number): Promise<Figure> {
    const s = connect(this.port, "127.0.0.1");
    s.setNoDelay(true);
    await once(s, "connect");
    const done = new Promise<void>((resolve) => s.once("data", () => resolve()));
    s.write(JSON.stringify({ mode: "sink", bytes, blockBytes: blocks[0].length, workingSetBytes: 0 }) + "\n");
    const t0 = performance.now();
    let sent = 0;
    for (let i = 0; sent < bytes; i++) {
      const b = blocks[i % blocks.length];
      sent += b.length;
      if (!s.write(b)) await once(s, "drain");
    }
    await done;
    const seconds = (performance.now() - t0) / 1000;
    s.destroy();
    return streamFigure(sent, seconds, blocks[0].length);
  }

  /** Have the peer push `bytes` in writes of `blockBytes`; timed from its ready byte to the last byte. */
  async get(blockBytes: number, workingSetBytes: number, bytes: number): Promise<Figure> {
    const s = connect(this.port, "127.0.0.1");
    s.setNoDelay(true);
    await once(s, "connect");
    s.write(JSON.stringify({ mode: "source", bytes, blockBytes, workingSetBytes }) + "\n");
    let t0 = 0;
    let got = -1; // the ready byte
    const seconds = await new Promise<number>((resolve) => {
      s.on("data", (d: Buffer) => {
        if (got < 0) t0 = performance.now();
        got += d.length;
        if (got >= bytes) resolve((performance.now() - t0) / 1000);
      });
    });
    s.destroy();
    return streamFigure(got, seconds, blockBytes);
  }

  stop(): void {
    this.child.kill("SIGTERM");
  }
}

/** Buffer.copy of a source working set into a destination working set of the same size, until `bytes` are copied. */
export function memcpy(blocks: Uint8Array[], bytes: number): Figure {
  const src = blocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.length));
  const dst = blocks.map((b) => Buffer.allocUnsafeSlow(b.length));
  for (let i = 0; i < dst.length; i++) src[i].copy(dst[i]); // touch every destination page once
  const t0 = performance.now();
  let copied = 0;
  for (let i = 0; copied < bytes; i++) copied += src[i % src.length].copy(dst[i % dst.length]);
  return streamFigure(copied, (performance.now() - t0) / 1000, blocks[0].length);
}

/**
 * One file per block of the working set, written and fdatasync'ed (a write counts once synced),
 * in rounds over the working set (its files removed between rounds, untimed), then read back.
 */
export async function plainFiles(dir: string, blocks: Uint8Array[], bytes: number, depth: number): Promise<{ write: Figure; read: Figure }> {
  await fsp.mkdir(dir, { recursive: true });
  const path = (i: number): string => join(dir, `b${i % blocks.length}`);
  const write = await measureOps({
    totalBytes: bytes,
    opBytes: blocks[0].length,
    depth,
    roundOps: blocks.length,
    beforeRound: async (round) => {
      if (round > 0) await Promise.all(blocks.map((_b, i) => fsp.rm(path(i), { force: true })));
    },
    op: async (i) => {
      const fh = await fsp.open(path(i), "w");
      await fh.write(blocks[i % blocks.length]);
      await fh.datasync();
      await fh.close();
    },
  });
  const read = await measureOps({
    totalBytes: bytes,
    opBytes: blocks[0].length,
    depth,
    op: async (i) => {
      await fsp.readFile(path(i));
    },
  });
  await fsp.rm(dir, { recursive: true, force: true });
  return { write, read };
}
