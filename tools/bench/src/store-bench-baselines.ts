// The baselines of `pnpm bench store`, measured in the same run as the store: the loopback (a
// plain TCP socket pair between this process and a peer process pushing the same bytes), a
// plain memory copy over a working set as large as the one moved, and plain files written with
// fdatasync and read back.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { promises as fsp } from "node:fs";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { verifyKvBlock } from "@kvtier/tensor";
import { CpuMeter } from "./store-bench-cpu.js";
import { measureOps, streamFigure, type Figure } from "./store-bench-measure.js";

const PEER = fileURLToPath(new URL("./tcp-peer.js", import.meta.url));
/** The loopback receiver's reused read buffer. */
const RECEIVE_BUFFER_BYTES = 256 * 1024;

/** `f` with CPU seconds per GiB from absolute CPU seconds. */
function withCpu(f: Figure, used: { client: number | null; server: number | null }): Figure {
  const per = (x: number | null): number | null => (x === null ? null : Math.round((x / (f.bytes / 2 ** 30)) * 1000) / 1000);
  return { ...f, cpu: { client: per(used.client), server: per(used.server) } };
}

/** The loopback peer process. */
export class TcpPeer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<TcpPeer> {
    const child = spawn(process.execPath, [PEER], { stdio: ["ignore", "pipe", "inherit"] });
    process.once("exit", () => child.kill("SIGKILL"));
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve));
    return new TcpPeer(child, (JSON.parse(line) as { port: number }).port);
  }

  /**
   * Push `bytes` to the peer in writes of one block each, from `blocks`; timed until the peer has
   * them all. The peer reads them on a connection it opens to us, with `onread` into one buffer.
   */
  async put(blocks: Uint8Array[], bytes: number): Promise<Figure> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const total = Math.ceil(bytes / blocks[0].length) * blocks[0].length;
    const control = connect(this.port, "127.0.0.1");
    control.on("error", () => control.destroy());
    await once(control, "connect");
    control.write(
      JSON.stringify({
        mode: "sink",
        bytes: total,
        blockBytes: blocks[0].length,
        workingSetBytes: 0,
        connectTo: (server.address() as AddressInfo).port,
      }) + "\n",
    );
    const [s] = (await once(server, "connection")) as [Socket];
    s.setNoDelay(true);
    s.on("error", () => s.destroy());
    const done = new Promise<void>((resolve) => s.once("data", () => resolve()));
    const cpu = new CpuMeter(this.child.pid);
    cpu.begin();
    const t0 = performance.now();
    let sent = 0;
    for (let i = 0; sent < total; i++) {
      const b = blocks[i % blocks.length];
      sent += b.length;
      if (!s.write(b)) await once(s, "drain");
    }
    await done;
    const seconds = (performance.now() - t0) / 1000;
    const used = cpu.seconds();
    s.destroy();
    control.destroy();
    server.close();
    return withCpu(streamFigure(sent, seconds, blocks[0].length), used);
  }

  /**
   * Have the peer push `bytes` in writes of `blockBytes`; timed from its ready byte to the last
   * byte. Received with `onread` into one reused buffer: what the loopback carries, no allocation.
   */
  async get(blockBytes: number, workingSetBytes: number, bytes: number): Promise<Figure> {
    let t0 = 0;
    let got = -1; // the ready byte
    let finish: (seconds: number) => void = () => undefined;
    let ready: () => void = () => undefined;
    const seconds = new Promise<number>((resolve) => (finish = resolve));
    const readyByte = new Promise<void>((resolve) => (ready = resolve));
    const sink = Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
    const s = connect({
      port: this.port,
      host: "127.0.0.1",
      noDelay: true,
      onread: {
        buffer: sink,
        callback: (n) => {
          if (got < 0) {
            t0 = performance.now();
            ready();
          }
          got += n;
          if (got >= bytes) finish((performance.now() - t0) / 1000);
          return true;
        },
      },
    });
    s.on("error", () => s.destroy());
    await once(s, "connect");
    const cpu = new CpuMeter(this.child.pid);
    s.write(JSON.stringify({ mode: "source", bytes, blockBytes, workingSetBytes }) + "\n");
    await readyByte; // the peer's set-up is done
    cpu.begin();
    const secs = await seconds;
    const used = cpu.seconds();
    s.destroy();
    return withCpu(streamFigure(got, secs, blockBytes), used);
  }

  stop(): void {
    this.child.kill("SIGTERM");
  }
}

/** verifyKvBlock (structure + CRC-32) over the working set until `bytes`: the cost every verified receive pays, on one core. */
export function verifyOnly(blocks: Uint8Array[], bytes: number): Figure {
  const t0 = performance.now();
  let done = 0;
  for (let i = 0; done < bytes; i++) {
    const b = blocks[i % blocks.length];
    verifyKvBlock(b);
    done += b.length;
  }
  return streamFigure(done, (performance.now() - t0) / 1000, blocks[0].length);
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
export async function plainFiles(
  dir: string,
  blocks: Uint8Array[],
  bytes: number,
  depth: number,
): Promise<{ write: Figure; read: Figure }> {
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
