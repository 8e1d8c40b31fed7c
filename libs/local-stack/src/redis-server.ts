// A throwaway redis-server for tests and local runs: loopback only, nothing written to disk.
import { tmpdir } from "node:os";
import { requireBinary } from "./find-binary.js";
import { LOOPBACK_HOST } from "./free-port.js";
import { startManagedServer, type ManagedServer } from "./managed-server.js";
import { REDIS_PING_PROBE } from "./tcp-probe.js";

/**
 * Start `redis-server` on a free loopback port with persistence off, and wait until it answers
 * PING. Throws a MISSING_BINARY LocalStackError naming `apt-get install -y redis-server` when the
 * binary is not installed.
 */
export function startRedis(): Promise<ManagedServer> {
  const binary = requireBinary("redis-server", "redis-server");
  return startManagedServer({
    name: "redis-server",
    binary,
    // --dir keeps any stray file out of the caller's working directory.
    args: (port) => ["--port", String(port), "--bind", LOOPBACK_HOST, "--save", "", "--appendonly", "no", "--dir", tmpdir()],
    probe: REDIS_PING_PROBE,
    url: (port) => `redis://${LOOPBACK_HOST}:${port}`,
  });
}
