// The one error class of @kvtier/trace-replay, with stable codes (the CLI maps them to exit codes).

/** Stable reasons a replay refuses its input. */
export type ReplayErrorCode =
  /** A trace line is not a Mooncake-format request (names the line and field). */
  | "TRACE_FORMAT"
  /** An option is out of its documented domain (names the option). */
  | "INVALID_OPTION";

/** Thrown on bad traces and bad options. `field` names the option, or `line N: field` for a trace. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
  readonly code: ReplayErrorCode;
  readonly field: string;

  constructor(code: ReplayErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(`${field}: ${message}`, options);
    this.code = code;
    this.field = field;
  }
}
