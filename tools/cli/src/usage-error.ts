// The CLI's one error for bad command lines: it names the flag (or argument) at fault.

/** A bad command line; `flag` is the flag or argument it concerns, e.g. "--max-tokens". */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
    this.name = "UsageError";
  }
}
