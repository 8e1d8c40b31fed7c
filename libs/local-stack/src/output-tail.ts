// A bounded ring of a child process's last output lines, kept so that a failure message can show
// why the process died without reading its log file back.

/** Lines of a process's output kept for error messages. */
const OUTPUT_TAIL_LINES = 40;
/** Longest line kept; longer ones are cut (a JSON log line can carry a whole stack trace). */
const OUTPUT_TAIL_LINE_CHARS = 2_000;

/** The last `capacity` lines written to it. */
export class OutputTail {
  private readonly lines: string[] = [];

  constructor(private readonly capacity = OUTPUT_TAIL_LINES) {}

  /** Record one line (without its newline). */
  push(line: string): void {
    this.lines.push(line.length > OUTPUT_TAIL_LINE_CHARS ? `${line.slice(0, OUTPUT_TAIL_LINE_CHARS)}…` : line);
    if (this.lines.length > this.capacity) this.lines.shift();
  }

  /** The kept lines joined with newlines. */
  toString(): string {
    return this.lines.join("\n");
  }
}
