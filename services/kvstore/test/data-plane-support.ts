// Helpers of the data-plane tests: the store's announced fast endpoint (Info over gRPC), a raw
// frame client for sending what no KvStoreClient would, and the arena files of a namespace.
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { FrameKind, FrameReader, decodeError, frameParts, type ErrorBody, type FrameHeader, type ParsedFrame } from "@kvtier/kv-transport";
import type { ServiceToken } from "@kvtier/platform";
import type { DataPlane } from "@kvtier/proto";
import { rawClient } from "./support/raw-client.js";

/** What the store announces in Info.data_plane. */
export function dataPlaneOf(store: { endpoint: string; token: ServiceToken }): Promise<DataPlane> {
  const c = rawClient(store);
  return new Promise((resolve, reject) =>
    c.info({}, (err, res) => {
      c.close();
      if (err) reject(err);
      else if (!res.dataPlane) reject(new Error("the store announces no data plane"));
      else resolve(res.dataPlane);
    }),
  );
}

/** Files in `dir` (default /dev/shm) whose names start with `prefix`. */
export const filesWithPrefix = (prefix: string, dir = "/dev/shm"): string[] => readdirSync(dir).filter((f) => f.startsWith(prefix));

/** A bare socket to the fast port that collects every frame the store sends. */
export class RawFrameClient {
  readonly frames: ParsedFrame[] = [];
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private readonly waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    const reader = new FrameReader(
      (h) => (h.payloadBytes ? [new Uint8Array(h.payloadBytes)] : []),
      (f) => {
        this.frames.push(f);
        this.waiters.splice(0).forEach((w) => w());
      },
    );
    socket.on("data", (d: Buffer) => reader.feed(d));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  /** A connection that has not authenticated (what an outsider who can reach the port has). */
  static connect(port: number): Promise<RawFrameClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new RawFrameClient(s)));
      s.once("error", reject);
    });
  }

  /** A connection authenticated with `token` (its AUTH_OK is not kept in `frames`). */
  static async open(port: number, token: ServiceToken): Promise<RawFrameClient> {
    const c = await RawFrameClient.connect(port);
    c.sendFrame({ kind: FrameKind.AUTH, flags: 0, requestId: 1, count: 0, payloadBytes: 0 }, token.bytes());
    const ok = await c.frame(0);
    if (ok.header.kind !== FrameKind.AUTH_OK) throw new Error(`the store refused the credential: ${JSON.stringify(errorOf(ok))}`);
    c.frames.length = 0;
    return c;
  }

  /** Send raw bytes. */
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Send one well-formed frame. */
  sendFrame(h: Omit<FrameHeader, "metaBytes">, meta: Uint8Array, payload: Uint8Array[] = []): void {
    for (const p of frameParts(h, meta, payload)) this.socket.write(p);
  }

  /** Close our sending side. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The `n`-th frame received (0-based), waiting for it; rejects if the connection closes first. */
  async frame(n: number): Promise<ParsedFrame> {
    let gone = false;
    void this.closed.then(() => {
      gone = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    while (this.frames.length <= n) {
      if (gone) throw new Error(`connection closed after ${this.frames.length} frames`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.frames[n];
  }
}

/** The error an ERROR frame carries. */
export const errorOf = (f: ParsedFrame): ErrorBody => decodeError(f.meta);
