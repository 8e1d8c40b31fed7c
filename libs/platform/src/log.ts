// Structured logs: one JSON object per line on stderr. stdout is reserved for the ready line.

import type { LogLevel, Logger } from "@kvtier/core";

export type { LogLevel, Logger } from "@kvtier/core";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A JSON-lines logger on stderr; messages below `level` are dropped. */
export function createLogger(service: string, level: LogLevel = "info", base: Record<string, unknown> = {}): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), lvl, svc: service, msg, ...base, ...fields }) + "\n");
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(service, level, { ...base, ...fields }),
  };
}

/**
 * The ready line: one JSON object on stdout once a service serves, with its bound ports, so a
 * launcher (the CLI, the tests) can start services on port 0 and learn where they listen.
 */
export function announceReady(service: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event: "ready", service, ...fields }) + "\n");
}
