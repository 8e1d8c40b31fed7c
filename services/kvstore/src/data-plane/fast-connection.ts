// One client connection to the fast port. Frames are parsed as they arrive; each request is
// decoded before its payload is read (a refused put's bytes are skipped, the stream stays in
// step), runs concurrently with the others (pipelining), and is answered by request id. A frame
// that cannot be parsed gets an ERROR frame with request id 0 and the connection is closed; the
// server and its other connections go on. Reading pauses while too much is in flight or queued.
// A connection must authenticate first (AUTH with the deployment's service credential, within
// AUTH_TIMEOUT_MS); anything else, or a wrong credential, ends it UNAUTHENTICATED. A connection
// with nothing in flight and nothing received for IDLE_CONNECTION_TIMEOUT_MS is ended.
import type { OnReadOpts, Socket } from "node:net";
import type { ServiceToken } from "@kvtier/platform";
import {
  FrameKind,
  FrameReader,
  SCRATCH_READ_BYTES,
  encodeError,
  writeFrame,
  type FrameHeader,
  type ParsedFrame,
} from "@kvtier/kv-transport";
import type { DataPath } from "../kvstore-metrics.js";
import { errorBodyOf } from "./error-frames.js";
import { pathOfKind, prepareRequest, type ConnectionState, type PreparedRequest, type Reply } from "./request-handlers.js";
import type { DataPlaneDeps } from "./run-service.js";
import type { ShmAnnouncement } from "./shm-announcement.js";

/** Requests of one connection running at once; reading pauses beyond this. */
const MAX_INFLIGHT_REQUESTS_PER_CONNECTION = 64;
/** Bytes queued for a client beyond which reading its requests pauses until it drains. */
const WRITE_HIGH_WATER_BYTES = 64 * 1024 * 1024;
/** A frame left unfinished this long is refused ("stalled") and the connection closed. */
const FRAME_STALL_TIMEOUT_MS = 30_000;
/** Time a new connection gets to authenticate (its AUTH frame answered). */
const AUTH_TIMEOUT_MS = 5_000;
/** A connection with no request in flight that receives nothing for this long is ended (clients reconnect on their next request). */
const IDLE_CONNECTION_TIMEOUT_MS = 10 * 60_000;
/** How often a connection checks whether it is idle or stalled. */
const ACTIVITY_CHECK_MS = 10_000;
/** After an ERROR frame that ends a connection, how long the client gets to read it. */
const CLOSE_GRACE_MS = 1_000;

/** A fast-path connection's lifecycle, owned by FastPathServer. */
export class FastConnection {
  private readonly reader: FrameReader;
  private readonly state: ConnectionState;
  private prepared: PreparedRequest | undefined;
  private inflight = 0;
  private paused = false;
  private readEnded = false;
  private ending = false;
  private scratch: Buffer | undefined;
  private aimedDirect = false;
  private authenticated = false;
  private lastHeardAt = Date.now();
  private socket!: Socket;
  /** Resolves once the socket closed and the arena (if any) was detached. */
  readonly closed: Promise<void>;

  /**
   * `open(onread)` creates the connection's socket: with `onread` when it can (payloads are then
   * read straight into their block buffers), else a socket whose 'data' events are fed here.
   */
  constructor(
    open: (onread: OnReadOpts) => { socket: Socket; usesOnread: boolean },
    deps: DataPlaneDeps,
    shm: ShmAnnouncement | undefined,
    private readonly token: ServiceToken,
  ) {
    this.state = { deps, shm, attachment: undefined };
    this.reader = new FrameReader(
      (h, meta) => this.prepare(h, meta),
      (f) => this.onFrame(f),
    );
    const { socket, usesOnread } = open({ buffer: () => this.nextReadBuffer(), callback: (n, buf) => this.onRead(n, buf) });
    this.socket = socket;
    if (!usesOnread) socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.setNoDelay(true);
    const activity = setInterval(() => this.checkActivity(Date.now()), ACTIVITY_CHECK_MS);
    activity.unref();
    const authTimer = setTimeout(() => {
      if (!this.authenticated)
        this.refuseStream("auth_timeout", `no authentication within ${AUTH_TIMEOUT_MS} ms`, "frame.kind", "UNAUTHENTICATED");
    }, AUTH_TIMEOUT_MS);
    authTimer.unref();
    socket.once("close", () => {
      clearInterval(activity);
      clearTimeout(authTimer);
    });
    socket.on("end", () => this.onEnd());
    socket.on("drain", () => this.updateFlow());
    socket.on("error", () => socket.destroy());
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        const att = this.state.attachment;
        if (att) void att.close().then(resolve);
        else resolve();
      }),
    );
  }

  /** Take no more requests, let in-flight ones answer, then end (the socket keeps reading only to see the client's end). */
  shutdown(): void {
    this.readEnded = true;
    this.maybeEnd();
  }

  /** Close now. */
  destroy(): void {
    this.socket.destroy();
  }

  /** End a connection that stalled mid-frame, or sat idle with nothing in flight. */
  private checkActivity(now: number): void {
    const quiet = now - this.lastHeardAt;
    if (this.reader.midFrame && quiet >= FRAME_STALL_TIMEOUT_MS) {
      this.refuseStream("stalled", `no bytes for ${FRAME_STALL_TIMEOUT_MS} ms in the middle of a frame`);
    } else if (!this.reader.midFrame && this.inflight === 0 && quiet >= IDLE_CONNECTION_TIMEOUT_MS) {
      this.shutdown();
    }
  }

  private onData(chunk: Uint8Array): void {
    this.lastHeardAt = Date.now();
    if (this.ending || this.readEnded) return; // closing: bytes after the end of service are not requests
    try {
      this.reader.feed(chunk);
    } catch (err) {
      const body = errorBodyOf(err);
      this.refuseStream(body.reason, body.message, body.field);
    }
  }

  /** Where the next read lands: a region of the current payload buffer, or the scratch buffer. */
  private nextReadBuffer(): Uint8Array {
    const direct = this.reader.directTarget();
    this.aimedDirect = direct !== undefined;
    return direct ?? (this.scratch ??= Buffer.allocUnsafeSlow(SCRATCH_READ_BYTES));
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    if (this.aimedDirect) {
      this.lastHeardAt = Date.now();
      this.reader.advanceDirect(n);
      return true;
    }
    this.onData(buf.subarray(0, n));
    return true;
  }

  private onEnd(): void {
    this.readEnded = true;
    if (this.reader.midFrame) return this.refuseStream("truncated", "the stream ended in the middle of a frame");
    this.maybeEnd();
  }

  /** The payload sink: decode the request now; refuse it (and skip its payload) if it is bad. */
  private prepare(h: FrameHeader, meta: Uint8Array): Uint8Array[] | null {
    if (!this.authenticated) return this.authenticate(h, meta);
    try {
      this.prepared = prepareRequest(this.state, h, meta);
      return this.prepared.targets;
    } catch (err) {
      this.prepared = undefined;
      this.replyError(h.requestId, pathOfKind(h.kind), err);
      return null;
    }
  }

  /** The first frame: AUTH with the service credential, answered AUTH_OK; anything else ends the connection. */
  private authenticate(h: FrameHeader, meta: Uint8Array): null {
    this.prepared = undefined;
    if (h.kind !== FrameKind.AUTH) {
      this.refuseStream("unauthenticated", "a connection must authenticate (AUTH) before any request", "frame.kind", "UNAUTHENTICATED");
    } else if (h.payloadBytes !== 0 || !this.token.verify(meta)) {
      this.refuseStream("unauthenticated", "wrong service credential", "auth.token", "UNAUTHENTICATED");
    } else {
      this.authenticated = true;
      writeFrame(this.socket, { kind: FrameKind.AUTH_OK, flags: 0, requestId: h.requestId, count: 0, payloadBytes: 0 }, new Uint8Array(0));
    }
    return null;
  }

  private onFrame(f: ParsedFrame): void {
    const req = this.prepared;
    this.prepared = undefined;
    if (f.discarded || !req) return;
    const { requestId } = f.header;
    this.state.deps.metrics?.dataRequest(req.path, req.op);
    this.inflight++;
    this.updateFlow();
    req
      .run(f.payload)
      .then(
        (reply) => this.reply(requestId, reply),
        (err: unknown) => this.replyError(requestId, req.path, err),
      )
      .finally(() => {
        this.state.deps.budget.release(req.reservedBytes);
        this.inflight--;
        this.updateFlow();
        this.maybeEnd();
      });
  }

  private reply(requestId: number, r: Reply): void {
    const payloadBytes = r.payload.reduce((a, b) => a + b.length, 0);
    writeFrame(this.socket, { kind: r.kind, flags: r.flags, requestId, count: r.count, payloadBytes }, r.meta, r.payload);
  }

  private replyError(requestId: number, path: DataPath, err: unknown): void {
    const body = errorBodyOf(err);
    if (body.code === "INTERNAL") this.state.deps.log?.error("fast-path request failed", { path, err: String(err) });
    this.state.deps.metrics?.dataError(path, body.reason);
    writeFrame(this.socket, { kind: FrameKind.ERROR, flags: 0, requestId, count: 0, payloadBytes: 0 }, encodeError(body));
  }

  /** An unparsable stream: say why (request id 0), stop reading, close once the client had time to read it. */
  private refuseStream(
    reason: string,
    message: string,
    field = "frame",
    code: "INVALID_ARGUMENT" | "UNAUTHENTICATED" = "INVALID_ARGUMENT",
  ): void {
    if (this.ending) return;
    this.ending = true;
    this.state.deps.metrics?.dataError("tcp", reason);
    this.state.deps.log?.warn("fast-path stream refused", { reason, message, remote: this.socket.remoteAddress });
    const body = { code, reason, field, message, retryAfterMs: 0 };
    writeFrame(this.socket, { kind: FrameKind.ERROR, flags: 0, requestId: 0, count: 0, payloadBytes: 0 }, encodeError(body));
    this.socket.end();
    this.socket.resume(); // read on (ignoring it) so the client's end closes the socket
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private updateFlow(): void {
    if (this.ending || this.readEnded) return;
    const busy = this.inflight >= MAX_INFLIGHT_REQUESTS_PER_CONNECTION || this.socket.writableLength > WRITE_HIGH_WATER_BYTES;
    if (busy && !this.paused) this.socket.pause();
    else if (!busy && this.paused) this.socket.resume();
    this.paused = busy;
  }

  /** Once the client stopped sending and every request was answered, end our side. */
  private maybeEnd(): void {
    if (this.readEnded && this.inflight === 0 && !this.ending) {
      this.ending = true;
      this.socket.end();
      this.socket.resume(); // see the client's end even if reading was paused for backpressure
    }
  }
}
