// Clean shutdown on SIGTERM/SIGINT: run the closers once, in order, then exit.
import type { Logger } from "./log.js";

/** Grace for all closers before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 10_000;

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
