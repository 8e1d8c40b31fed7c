// grpc-js plumbing shared by every service: channel limits, binding, status mapping.
import { Metadata, Server, ServerCredentials, credentials, type ChannelOptions } from "@grpc/grpc-js";
import { KvtierError, grpcCodeOf, messageOf } from "./errors.js";

/** Block bytes travel in chunks of at most this many bytes. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Message limit on both sides (a 1 MiB chunk plus framing fits well below). */
export const MAX_GRPC_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Channel/server options with their exact grpc-js keys (a misspelt key would be ignored silently). */
export const GRPC_OPTIONS: ChannelOptions = {
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
};

/** A grpc-js server with the project's limits. */
export function createGrpcServer(): Server {
  return new Server(GRPC_OPTIONS);
}

/** Bind insecure on host:port (0 = ephemeral); resolves to the bound port. */
export function bindGrpcServer(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

/** Stop accepting calls and wait for in-flight ones, forcing after `graceMs`. */
export function shutdownGrpcServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Insecure channel credentials (deployments terminate TLS in the mesh). */
export const insecureCredentials = (): ReturnType<typeof credentials.createInsecure> => credentials.createInsecure();

/** A grpc-js status object for any thrown value: KvtierError keeps its code, field and retry hint. */
export function toGrpcStatus(err: unknown): { code: number; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  if (err instanceof KvtierError) {
    if (err.field) metadata.set("kvtier-field", err.field);
    if (err.retryAfterMs !== undefined) metadata.set("retry-after-ms", String(err.retryAfterMs));
    return { code: grpcCodeOf(err.code), details: err.message, metadata };
  }
  return { code: grpcCodeOf("INTERNAL"), details: messageOf(err), metadata };
}
