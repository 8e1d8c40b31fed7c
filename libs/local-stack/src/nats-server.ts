// A throwaway nats-server for tests and local runs: loopback only, core NATS (no JetStream).
import { requireBinary } from "./find-binary.js";
import { LOOPBACK_HOST } from "./free-port.js";
import { startManagedServer, type ManagedServer } from "./managed-server.js";
import { NATS_INFO_PROBE } from "./tcp-probe.js";

/**
 * Start `nats-server` on a free loopback port and wait until it greets a connection with INFO.
 * Throws a MISSING_BINARY LocalStackError naming `apt-get install -y nats-server` when the binary
 * is not installed.
 */
export function startNats(): Promise<ManagedServer> {
  const binary = requireBinary("nats-server", "nats-server");
  return startManagedServer({
    name: "nats-server",
    binary,
    args: (port) => ["-a", LOOPBACK_HOST, "-p", String(port)],
    probe: NATS_INFO_PROBE,
    url: (port) => `nats://${LOOPBACK_HOST}:${port}`,
  });
}
