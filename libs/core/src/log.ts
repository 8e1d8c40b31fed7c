// The logging seam: what a library is given to log with. Services pass libs/platform's JSON-lines
// logger; tests may pass their own.

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A logger bound to a service name and fixed fields. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}
