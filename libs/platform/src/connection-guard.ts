// Limits on the connections of one listening port, for servers whose protocol stack (grpc-js's
// HTTP/2, Node's HTTP) cannot tell a slow or silent peer from a live one by itself: a connection
// must finish its handshake in time, a connection whose peer sends nothing for too long is
// closed, and the port holds a bounded number of connections. Checked by one sweep per port
// over the sockets' byte counters, so the protocol stack keeps reading the socket undisturbed.
import type { Server, Socket } from "node:net";

/** How often a port's connections are checked. */
const CONNECTION_SWEEP_INTERVAL_MS = 1_000;

/** The limits of one port. */
export interface ConnectionLimits {
  /** Bytes a peer must have sent for its handshake to count as done (e.g. the HTTP/2 preface and SETTINGS header). */
  handshakeBytes: number;
  /** Time a new connection gets to send `handshakeBytes`, in ms. */
  handshakeTimeoutMs: number;
  /** A connection whose peer sent no byte for this long is closed, in ms (live peers answer keepalive pings well within it). */
  silentTimeoutMs: number;
  /** Connections the port holds at once; more are closed as they arrive. */
  maxConnections: number;
}

interface Watched {
  acceptedAt: number;
  lastBytesRead: number;
  lastHeardAt: number;
}

/** Watches one server's sockets; {@link close} stops the sweep. */
export class ConnectionGuard {
  private readonly sockets = new Map<Socket, Watched>();
  private readonly timer: NodeJS.Timeout;
  /** Connections closed by each limit since start. */
  readonly closed = { handshake: 0, silent: 0 };

  constructor(
    server: Server,
    private readonly limits: ConnectionLimits,
    private readonly onClose?: (reason: "handshake" | "silent", socket: Socket) => void,
  ) {
    server.maxConnections = limits.maxConnections;
    this.timer = setInterval(() => this.sweep(Date.now()), CONNECTION_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Start watching an accepted socket (forgotten when it closes). */
  watch(socket: Socket, now = Date.now()): void {
    this.sockets.set(socket, { acceptedAt: now, lastBytesRead: 0, lastHeardAt: now });
    socket.once("close", () => this.sockets.delete(socket));
  }

  /** Connections watched now. */
  get size(): number {
    return this.sockets.size;
  }

  /** Close the connections past a limit at `now` (the interval calls this; tests may too). */
  sweep(now: number): void {
    const { handshakeBytes, handshakeTimeoutMs, silentTimeoutMs } = this.limits;
    for (const [socket, w] of this.sockets) {
      const read = socket.bytesRead;
      if (read !== w.lastBytesRead) {
        w.lastBytesRead = read;
        w.lastHeardAt = now;
      }
      let reason: "handshake" | "silent" | undefined;
      if (read < handshakeBytes && now - w.acceptedAt >= handshakeTimeoutMs) reason = "handshake";
      else if (now - w.lastHeardAt >= silentTimeoutMs) reason = "silent";
      if (reason === undefined) continue;
      this.closed[reason] += 1;
      this.sockets.delete(socket);
      this.onClose?.(reason, socket);
      socket.destroy();
    }
  }

  /** Stop the sweep (the sockets are the server's to close). Idempotent. */
  close(): void {
    clearInterval(this.timer);
  }
}
