// Named error of the selection policies: a bad spec, or statistics that do not fit the request.

/** Stable reasons a policy cannot be parsed or applied. */
export type PolicyErrorCode = "BAD_SPEC" | "UNKNOWN_METHOD" | "BAD_BUDGET" | "BAD_STATS" | "BAD_SELECTION";

/** Thrown by spec parsing and the selection algorithms; branch on `code`. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  readonly code: PolicyErrorCode;

  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
