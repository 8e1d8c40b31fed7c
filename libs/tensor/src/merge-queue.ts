// Candidate merges of the BPE encoder, best first: a binary heap over parallel typed arrays.

/** Entries the queue holds before its first growth. */
const MIN_CAPACITY_ENTRIES = 16;

/**
 * A binary heap of candidate merges, popped in run.c's order: highest score first, then lowest
 * left position (positions keep their order under merges, so this is run.c's leftmost pair).
 * An entry is (score, left symbol, merged token); the encoder checks when it pops one whether the
 * pair at that position still merges into that token (merges leave stale entries behind, never
 * removed). Entries live in parallel typed arrays, no object each; the arrays double when full.
 */
export class MergeQueue {
  private scores: Float32Array;
  private lefts: Int32Array;
  private merges: Int32Array;
  private count = 0;

  /** @param capacity entries to allocate up front (the queue grows past it). */
  constructor(capacity: number) {
    const n = Math.max(MIN_CAPACITY_ENTRIES, capacity);
    this.scores = new Float32Array(n);
    this.lefts = new Int32Array(n);
    this.merges = new Int32Array(n);
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.count;
  }

  /** Score of the best entry (the queue must not be empty). */
  topScore(): number {
    return this.scores[0];
  }

  /** Left symbol (its position) of the best entry. */
  topLeft(): number {
    return this.lefts[0];
  }

  /** Token the best entry's pair merges into. */
  topMerged(): number {
    return this.merges[0];
  }

  /** Add a candidate: the pair whose left symbol is `left` merges into `merged`, scoring `score`. */
  push(score: number, left: number, merged: number): void {
    if (this.count === this.scores.length) this.grow();
    let at = this.count++;
    // Sift up: move worse parents down into the hole, then write the entry once.
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.popsBefore(score, left, parent)) break;
      this.move(parent, at);
      at = parent;
    }
    this.write(at, score, left, merged);
  }

  /** Remove the best entry (read it first with the top accessors). */
  pop(): void {
    const last = --this.count;
    if (last === 0) return;
    const score = this.scores[last];
    const left = this.lefts[last];
    const merged = this.merges[last];
    // Sift down: move the better child up into the hole until the last entry fits there.
    let at = 0;
    for (let child = 1; child < last; child = 2 * at + 1) {
      if (child + 1 < last && this.popsBefore(this.scores[child + 1], this.lefts[child + 1], child)) child++;
      if (this.popsBefore(score, left, child)) break;
      this.move(child, at);
      at = child;
    }
    this.write(at, score, left, merged);
  }

  /** Whether an entry (score, left) pops before the entry at `i`. */
  private popsBefore(score: number, left: number, i: number): boolean {
    const s = this.scores[i];
    return score > s || (score === s && left < this.lefts[i]);
  }

  private move(from: number, to: number): void {
    this.scores[to] = this.scores[from];
    this.lefts[to] = this.lefts[from];
    this.merges[to] = this.merges[from];
  }

  private write(at: number, score: number, left: number, merged: number): void {
    this.scores[at] = score;
    this.lefts[at] = left;
    this.merges[at] = merged;
  }

  private grow(): void {
    const n = this.scores.length * 2;
    const scores = new Float32Array(n);
    const lefts = new Int32Array(n);
    const merges = new Int32Array(n);
    scores.set(this.scores);
    lefts.set(this.lefts);
    merges.set(this.merges);
    this.scores = scores;
    this.lefts = lefts;
    this.merges = merges;
  }
}
