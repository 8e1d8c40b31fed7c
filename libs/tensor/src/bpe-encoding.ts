// One text's BPE encoding in progress: run.c's codepoint pre-split, then its best-first merges,
// run in bounded steps so a caller can give the event loop back between them.
import { MergeQueue } from "./merge-queue.js";
import { NO_MERGE, type MergeTable } from "./merge-table.js";

/** Offset of the byte-fallback tokens: byte b is token b + 3 (after <unk>, <s>, </s>). */
const BYTE_FALLBACK_OFFSET = 3;
/** Longest UTF-8 sequence grouped into one codepoint lookup, in bytes. */
export const MAX_UTF8_SEQUENCE_BYTES = 4;
/** run.c's starting best score: a pair whose piece scores at or below it (or NaN) never merges. */
const MERGE_SCORE_FLOOR = -1e10;
/** `prev` of the first symbol, `next` of the last one and of a symbol merged into its left neighbour. */
const NONE = -1;

/** What the encoder reads of a vocabulary. */
export interface BpeVocabulary {
  /** Piece (latin1 string of its bytes) -> the first id holding it. */
  readonly lookup: ReadonlyMap<string, number>;
  /** Which token two adjacent tokens merge into. */
  readonly merges: MergeTable;
  /** Score of each token id (float32, compared as run.c compares them). */
  readonly scores: Float32Array;
}

/**
 * The encoding of one text. Symbols (tokens in the list) form a doubly linked list over typed
 * arrays, indexed by their position in the pre-split; a merge keeps the left symbol's index and
 * unlinks the right one, so indices keep their order and the lowest left index is run.c's leftmost
 * pair. Candidate merges wait in a {@link MergeQueue}; an entry is checked when popped, not
 * removed when a merge makes it stale. {@link advance} runs a bounded number of steps (a byte of
 * the pre-split, a popped candidate, or a token copied out), so `encode` runs it to the end and
 * `encodeAsync` runs it in slices.
 */
export class BpeEncoding {
  private readonly vocab: BpeVocabulary;
  private readonly bytes: Uint8Array;
  /**
   * The same bytes as a latin1 string: a codepoint's piece key is a slice of it (a Buffer per codepoint costs more than all the merges).
   */
  private readonly latin1: string;
  private readonly tok: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly queue: MergeQueue;
  private symbols = 0;
  /** Symbols still in the list (appended minus merged away). */
  private live = 0;
  /** Pre-split cursor: the next byte to read, and where the current codepoint started. */
  private at = 0;
  private codepointStart = 0;
  /** The output, allocated once merging is done, with the walk's next symbol and the tokens written so far. */
  private out: number[] | undefined;
  private cursor = NONE;
  private written = 0;

  /**
   * @param bytes the text's UTF-8 bytes.
   * @param leading tokens placed before the text's (BOS, the dummy prefix); they merge like any other.
   */
  constructor(vocab: BpeVocabulary, bytes: Buffer, leading: readonly number[]) {
    this.vocab = vocab;
    this.bytes = bytes;
    this.latin1 = bytes.toString("latin1");
    const capacity = bytes.length + leading.length;
    this.tok = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.queue = new MergeQueue(capacity);
    for (const token of leading) this.append(token);
  }

  /** Run at most `maxSteps` steps (Infinity: to the end); true once the encoding is complete. */
  advance(maxSteps: number): boolean {
    let steps = this.split(maxSteps);
    if (this.at < this.bytes.length) return false; // merges wait for the whole pre-split
    steps = this.merge(steps, maxSteps);
    if (this.queue.size > 0) return false;
    return this.collect(steps, maxSteps);
  }

  /** The tokens, first to last; complete once {@link advance} returned true (empty before merging ends). */
  tokens(): number[] {
    return this.out ?? [];
  }

  /** Pop candidates until the queue is empty or `steps` reaches `maxSteps`; returns the steps taken in all. */
  private merge(steps: number, maxSteps: number): number {
    const { queue, tok, next, prev } = this;
    while (steps < maxSteps && queue.size > 0) {
      steps++;
      const left = queue.topLeft();
      const merged = queue.topMerged();
      queue.pop();
      const right = next[left];
      // Stale if `left` was merged away (its next is NONE) or its pair now merges into another
      // token. A pair that still merges into `merged` has this entry's score and position, so the
      // entry is as good as a fresh one even if a neighbour changed since.
      if (right === NONE || this.vocab.merges.mergeOf(tok[left], tok[right]) !== merged) continue;
      tok[left] = merged;
      const after = next[right];
      next[left] = after;
      next[right] = NONE;
      this.live--;
      if (after !== NONE) {
        prev[after] = left;
        this.pushCandidate(left, after);
      }
      if (prev[left] !== NONE) this.pushCandidate(prev[left], left);
    }
    return steps;
  }

  /**
   * Copy the list into the output array, one token a step (on a long text the walk alone takes
   * a millisecond or more, so it is sliced too). True once it is done.
   */
  private collect(steps: number, maxSteps: number): boolean {
    if (this.out === undefined) {
      this.out = new Array<number>(this.live); // sized up front: pushing 100k tokens one by one costs 3x the walk
      this.cursor = this.live > 0 ? 0 : NONE;
    }
    const { out, tok, next } = this;
    let s = this.cursor;
    let i = this.written;
    for (; s !== NONE && steps < maxSteps; steps++, s = next[s]) out[i++] = tok[s];
    this.cursor = s;
    this.written = i;
    return s === NONE;
  }

  /**
   * Pre-split up to `maxSteps` bytes as run.c does: one symbol per codepoint that is a piece,
   * else one byte-fallback symbol per byte. Returns the steps taken.
   */
  private split(maxSteps: number): number {
    const { bytes, latin1 } = this;
    const end = bytes.length;
    let steps = 0;
    let start = this.codepointStart;
    let i = this.at;
    for (; i < end && steps < maxSteps; i++, steps++) {
      if ((bytes[i] & 0xc0) !== 0x80) start = i;
      const len = i - start + 1;
      const following = i + 1 < end ? bytes[i + 1] : 0;
      if ((following & 0xc0) === 0x80 && len < MAX_UTF8_SEQUENCE_BYTES) continue;
      const id = this.vocab.lookup.get(latin1.slice(start, i + 1));
      if (id !== undefined) {
        this.append(id);
      } else {
        for (let j = start; j <= i; j++) this.append(bytes[j] + BYTE_FALLBACK_OFFSET);
      }
      start = i + 1;
    }
    this.at = i;
    this.codepointStart = start;
    return steps;
  }

  /** Append a symbol and queue the merge it forms with the symbol before it. */
  private append(token: number): void {
    const s = this.symbols++;
    this.live++;
    this.tok[s] = token;
    this.next[s] = NONE;
    this.prev[s] = s - 1;
    if (s > 0) {
      this.next[s - 1] = s;
      this.pushCandidate(s - 1, s);
    }
  }

  /** Queue the merge of two adjacent symbols, if their pieces merge into a piece run.c would pick. */
  private pushCandidate(left: number, right: number): void {
    const merged = this.vocab.merges.mergeOf(this.tok[left], this.tok[right]);
    if (merged === NO_MERGE) return;
    const score = this.vocab.scores[merged];
    if (score > MERGE_SCORE_FLOOR) this.queue.push(score, left, merged);
  }
}
