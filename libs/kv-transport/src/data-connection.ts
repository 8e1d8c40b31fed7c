// One client connection to a kvstore's fast port: requests are pipelined (each has an id; many
// may be in flight), responses are matched by id, and response payloads are read by the socket
// straight into one buffer per answer (net `onread` with a buffer chosen per read), so the bytes
// of a run are copied once, by the kernel. A connection authenticates first (AUTH with the
// deployment's service credential) and is handed out only once the store accepted it. The
// connection's owner is its BlockPath.
import { connect, type Socket } from "node:net";
import { FrameKind, type FrameHeader } from "./frame-format.js";
import { decodeError } from "./frame-messages.js";
import { FrameReader, type ParsedFrame } from "./frame-reader.js";
import { writeFrame } from "./frame-writer.js";
import { TransportError, unavailable } from "./transport-error.js";

/** Size of the buffer reads go to when they are not aimed at a payload. */
export const SCRATCH_READ_BYTES = 64 * 1024;
/** How long connecting, authentication included, may take. */
const CONNECT_TIMEOUT_MS = 5_000;

interface Pending {
  resolve: (f: ParsedFrame) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Where a fast port is. */
export interface FastEndpoint {
  host: string;
  port: number;
}

/** A pipelined request/response connection speaking the kvtier frame protocol. */
export class DataConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private broken: Error | undefined;
  private readonly reader: FrameReader;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_READ_BYTES);
  private socket!: Socket;
  /** Where the current read was aimed: the scratch buffer or a payload region. */
  private aimedDirect = false;

  private constructor() {
    this.reader = new FrameReader(
      (h) => this.payloadTargets(h),
      (f) => this.onFrame(f),
    );
  }

  /**
   * Connect to `ep` and authenticate with `credential` (the service token's bytes); rejects with
   * UNAVAILABLE when nothing answers in time, UNAUTHENTICATED when the store refuses the credential.
   */
  static open(ep: FastEndpoint, credential: Uint8Array, timeoutMs = CONNECT_TIMEOUT_MS): Promise<DataConnection> {
    const c = new DataConnection();
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: ep.host,
        port: ep.port,
        noDelay: true,
        onread: { buffer: () => c.nextReadBuffer(), callback: (n, buf) => c.onRead(n, buf) },
      });
      c.socket = socket;
      const timer = setTimeout(
        () => socket.destroy(unavailable("connect_timeout", `no answer from ${ep.host}:${ep.port} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once("connect", () => {
        clearTimeout(timer);
        c.request(FrameKind.AUTH, 0, 0, credential, [], deadline).then(
          () => resolve(c),
          (err: unknown) => {
            c.fail(err instanceof Error ? err : unavailable("auth", String(err)));
            reject(err);
          },
        );
      });
      socket.on("error", (err) => {
        clearTimeout(timer);
        c.fail(err instanceof TransportError ? err : unavailable("connection", `${ep.host}:${ep.port}: ${err.message}`, err));
        reject(c.broken);
      });
      socket.on("close", () => c.fail(unavailable("closed", `connection to ${ep.host}:${ep.port} closed`)));
    });
  }

  /** False once the connection failed or closed. */
  get usable(): boolean {
    return this.broken === undefined;
  }

  /**
   * Send one request frame and resolve with its response (any kind but ERROR, which rejects
   * with the TransportError it carries). A request past `deadline` rejects DEADLINE_EXCEEDED;
   * a late answer is then skipped.
   */
  request(
    kind: FrameKind,
    flags: number,
    count: number,
    meta: Uint8Array,
    payload: readonly Uint8Array[],
    deadline: number,
  ): Promise<ParsedFrame> {
    if (this.broken) return Promise.reject(this.broken);
    const requestId = this.nextId;
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
    const payloadBytes = payload.reduce((a, b) => a + b.length, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(requestId);
          reject(new TransportError("DEADLINE_EXCEEDED", "deadline", "", `no answer to request ${requestId} before its deadline`));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.pending.set(requestId, { resolve, reject, timer });
      writeFrame(this.socket, { kind, flags, requestId, count, payloadBytes }, meta, payload);
    });
  }

  /** Reject what is in flight and close the socket. Idempotent. */
  close(): void {
    this.fail(new TransportError("CANCELLED", "closed", "", "the data connection was closed"));
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.socket?.destroy();
  }

  /** Response payloads go to one fresh buffer per answer (handed out as subarrays); late answers are skipped. */
  private payloadTargets(h: FrameHeader): Uint8Array[] | null {
    if (h.payloadBytes === 0) return [];
    if (!this.pending.has(h.requestId) || h.kind !== FrameKind.GET_RESULT) return null;
    return [Buffer.allocUnsafeSlow(h.payloadBytes)];
  }

  private onFrame(f: ParsedFrame): void {
    if (f.header.kind === FrameKind.ERROR && f.header.requestId === 0) {
      const e = decodeError(f.meta);
      return this.fail(new TransportError(e.code, e.reason, e.field, `store refused the stream: ${e.message}`));
    }
    const p = this.pending.get(f.header.requestId);
    if (!p) return;
    this.pending.delete(f.header.requestId);
    clearTimeout(p.timer);
    if (f.header.kind !== FrameKind.ERROR) return p.resolve(f);
    const e = decodeError(f.meta);
    p.reject(new TransportError(e.code, e.reason, e.field, e.message, { retryAfterMs: e.retryAfterMs || undefined }));
  }

  private nextReadBuffer(): Uint8Array {
    const direct = this.reader.directTarget();
    this.aimedDirect = direct !== undefined;
    return direct ?? this.scratch;
  }

  /** Bytes arrived in the buffer the last read was aimed at; true keeps reading. */
  private onRead(n: number, buf: Uint8Array): boolean {
    try {
      if (this.aimedDirect) this.reader.advanceDirect(n);
      else this.reader.feed(buf.subarray(0, n));
    } catch (err) {
      // The store's answers cannot be read: not the caller's fault, and worth another path.
      this.fail(unavailable("protocol", `unreadable answer from the store: ${err instanceof Error ? err.message : String(err)}`, err));
    }
    return true;
  }
}
