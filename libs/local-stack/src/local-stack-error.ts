// The one error type of the launcher: every failure names the process or binary it concerns and
// carries what a person needs to act (the install command, the tail of the process's stderr).

/** Stable codes of launcher failures. */
export type LocalStackErrorCode =
  /** A server binary (redis-server, nats-server) is not installed. */
  | "MISSING_BINARY"
  /** A process exited before it was ready. */
  | "EXITED_BEFORE_READY"
  /** A process did not become ready in time. */
  | "READY_TIMEOUT"
  /** A ready line lacks what the stack needs from it (e.g. the router's port). */
  | "BAD_READY_LINE"
  /** A process could not be spawned at all (e.g. its entry point does not exist). */
  | "SPAWN_FAILED"
  /** An option passed to the launcher cannot be used; the message names it. */
  | "BAD_OPTION";

/** A launcher failure with a stable code and, for a process, the tail of its output. */
export class LocalStackError extends Error {
  constructor(
    readonly code: LocalStackErrorCode,
    message: string,
    readonly details: { process?: string; outputTail?: string; logFile?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = "LocalStackError";
  }
}

/** Append the captured output of a process to a message, indented, when there is any. */
export function withOutputTail(message: string, tail: string): string {
  const trimmed = tail.trimEnd();
  if (trimmed === "") return `${message} (it printed nothing)`;
  return `${message}; last output:\n${trimmed.replace(/^/gm, "  | ")}`;
}
