// grpc-js plumbing shared by every service: channel limits, guarded servers, listening ports with
// connection limits, status mapping.
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { Metadata, Server, ServerCredentials, credentials, type ChannelOptions, type ClientOptions } from "@grpc/grpc-js";
import { ConnectionGuard, type ConnectionLimits } from "./connection-guard.js";
import { KvtierError, grpcCodeOf, messageOf } from "./errors.js";
import { guardInterceptor, type GrpcServerGuard } from "./grpc-guard.js";
import type { ServiceToken } from "./service-token.js";

/** Message limit on both sides (a 1 MiB chunk plus framing fits well below). */
const MAX_GRPC_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Keepalive ping period on both sides: a live peer answers one within GRPC_KEEPALIVE_TIMEOUT_MS. */
const GRPC_KEEPALIVE_TIME_MS = 10_000;
/** A keepalive ping unanswered this long ends the connection. */
const GRPC_KEEPALIVE_TIMEOUT_MS = 5_000;
/** A server connection with no call for this long is closed (GOAWAY; clients reconnect on their next call). */
const GRPC_IDLE_CONNECTION_MS = 5 * 60_000;
/** Time a new connection gets to send the HTTP/2 client preface and its first SETTINGS frame. */
export const GRPC_HANDSHAKE_TIMEOUT_MS = 10_000;
/** A connection whose peer sent nothing for this long is closed (six keepalive periods: no live peer is that quiet). */
const GRPC_SILENT_CONNECTION_MS = 6 * GRPC_KEEPALIVE_TIME_MS;
/** Connections one gRPC port holds at once. */
const GRPC_MAX_CONNECTIONS_PER_PORT = 4_096;
/** The HTTP/2 client preface (24 bytes) plus the 9-byte header of the SETTINGS frame that must follow it. */
const HTTP2_HANDSHAKE_BYTES = 24 + 9;

/** Channel/server options with their exact grpc-js keys (a misspelt key would be ignored silently). */
export const GRPC_OPTIONS: ChannelOptions = {
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": GRPC_KEEPALIVE_TIME_MS,
  "grpc.keepalive_timeout_ms": GRPC_KEEPALIVE_TIMEOUT_MS,
};

/** Server-side options: the channel limits plus the idle-connection limit. */
const GRPC_SERVER_OPTIONS: ChannelOptions = { ...GRPC_OPTIONS, "grpc.max_connection_idle_ms": GRPC_IDLE_CONNECTION_MS };

/** The connection limits of a gRPC port. */
const GRPC_CONNECTION_LIMITS: ConnectionLimits = {
  handshakeBytes: HTTP2_HANDSHAKE_BYTES,
  handshakeTimeoutMs: GRPC_HANDSHAKE_TIMEOUT_MS,
  silentTimeoutMs: GRPC_SILENT_CONNECTION_MS,
  maxConnections: GRPC_MAX_CONNECTIONS_PER_PORT,
};

/** A grpc-js server with the project's limits and `guard` (see grpc-guard.ts); add services with addGuardedService. */
export function createGrpcServer(guard: GrpcServerGuard = {}): Server {
  return new Server({ ...GRPC_SERVER_OPTIONS, interceptors: [guardInterceptor(guard)] });
}

/**
 * A listening port of a gRPC server: a plain TCP server whose connections are handed to grpc-js
 * once accepted, under {@link GRPC_CONNECTION_LIMITS} (handshake and silence timeouts, a cap).
 */
export class GrpcPort {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly listener: NetServer,
    private readonly guard: ConnectionGuard,
    /** The bound port. */
    readonly port: number,
  ) {}

  /** Listen on host:port (0 = ephemeral) and serve `server`'s services there. */
  static async bind(server: Server, host: string, port: number, limits: ConnectionLimits = GRPC_CONNECTION_LIMITS): Promise<GrpcPort> {
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const listener = createServer({ noDelay: true });
    const guard = new ConnectionGuard(listener, limits);
    listener.on("connection", (socket: Socket) => {
      guard.watch(socket);
      injector.injectConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, host, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    const addr = listener.address();
    return new GrpcPort(server, listener, guard, typeof addr === "object" && addr ? addr.port : port);
  }

  /** Connections open now. */
  get connections(): number {
    return this.guard.size;
  }

  /** Stop accepting connections and calls, wait for in-flight calls, forcing after `graceMs`. Idempotent. */
  shutdown(graceMs: number): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.listener.close();
      this.guard.close();
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closing;
  }
}

/** Insecure channel credentials (deployments terminate TLS in the mesh). */
export const insecureCredentials = (): ReturnType<typeof credentials.createInsecure> => credentials.createInsecure();

/** Client options for an internal service: the channel limits, and the service credential on every call. */
export function internalClientOptions(token: ServiceToken): ClientOptions {
  return { ...GRPC_OPTIONS, interceptors: [token.interceptor()] };
}

/** Trailer naming the code of a status a kvtier service sent (a status without it came from the transport). */
export const STATUS_ORIGIN_TRAILER = "kvtier-code";

/**
 * A grpc-js status object for any thrown value: KvtierError keeps its code, field and retry hint.
 * Every one carries {@link STATUS_ORIGIN_TRAILER}, so a caller tells a service's answer from a
 * dropped connection.
 */
export function toGrpcStatus(err: unknown): { code: number; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set(STATUS_ORIGIN_TRAILER, err instanceof KvtierError ? err.code : "INTERNAL");
  if (err instanceof KvtierError) {
    if (err.field) metadata.set("kvtier-field", err.field);
    if (err.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(err.retryAfterMs));
    return { code: grpcCodeOf(err.code), details: err.message, metadata };
  }
  return { code: grpcCodeOf("INTERNAL"), details: messageOf(err), metadata };
}
