// Clean shutdown on SIGTERM/SIGINT: run the closers once, in order, then exit.
import type { Logger } from "./log.js";

/** Grace for all closers before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * Grace for in-flight requests (gRPC calls and streams, running decodes) once a service stops
 * accepting: half of SHUTDOWN_GRACE_MS, so the closers after them (NATS, Redis, telemetry) still
 * run before the forced exit.
 */
export const DRAIN_GRACE_MS = SHUTDOWN_GRACE_MS / 2;

/** Register `close` to run once on SIGTERM or SIGINT; the process exits when it settles. */
export function onShutdown(log: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info("shutting down", { signal });
    const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    force.unref();
    close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error("shutdown failed", { err: String(err) });
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => handler("SIGTERM"));
  process.on("SIGINT", () => handler("SIGINT"));
}
