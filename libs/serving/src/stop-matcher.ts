// Stop strings over an incrementally detokenized stream. Text that could still turn into a stop
// string is held back, so a client never sees part of a stop string (vLLM's behaviour).

/** The limits a request's stop strings must respect. */
export const MAX_STOP_STRINGS = 4;
export const MAX_STOP_STRING_BYTES = 64;

/** Feeds text pieces; says when a stop string completes and what text is safe to emit. */
export class StopMatcher {
  private text = "";
  private emitted = 0;
  private readonly holdBack: number;
  stopped = false;

  constructor(private readonly stops: readonly string[]) {
    this.holdBack = stops.reduce((m, s) => Math.max(m, s.length - 1), 0);
  }

  /** Append generated text; returns the text now safe to emit (never part of a stop string). */
  push(piece: string): string {
    if (this.stopped) return "";
    this.text += piece;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, this.emitted - s.length + 1));
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      return this.take(cut);
    }
    return this.take(Math.max(this.emitted, this.text.length - this.holdBack));
  }

  /** The stream ended without a stop: everything held back is safe now. */
  finish(): string {
    return this.stopped ? "" : this.take(this.text.length);
  }

  private take(end: number): string {
    // never split a surrogate pair
    if (end > 0 && end < this.text.length && /[\uD800-\uDBFF]/.test(this.text[end - 1])) end -= 1;
    const out = this.text.slice(this.emitted, end);
    this.emitted = Math.max(this.emitted, end);
    return out;
  }
}
