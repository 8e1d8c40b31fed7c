// NATS connection ownership: one connection per service process, drained on close.
import { connect, type NatsConnection } from "@nats-io/transport-node";

export type { NatsConnection };

/** Connect to NATS at `url` (e.g. nats://127.0.0.1:4222) with a client name for monitoring. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  const servers = url.replace(/^nats:\/\//, "");
  return connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}

/** Drain and close; idempotent. */
export async function closeNats(nc: NatsConnection | undefined): Promise<void> {
  if (!nc || nc.isClosed()) return;
  try {
    await nc.drain();
  } catch {
    await nc.close();
  }
}
