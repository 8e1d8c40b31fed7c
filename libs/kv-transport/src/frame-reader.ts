// Incremental frame parser: bytes go in as they arrive (in any split), whole frames come out.
// Payload bytes are copied straight into buffers the receiver chose for that frame (one per
// block, or one per run), and a socket using `onread` can read them there itself
// (directTarget/advanceDirect), so a block's bytes are written once in user space and handed out
// as is. The first malformed frame is fatal for the stream: the reader throws and stays failed.
import { FRAME_HEADER_BYTES, checkFrameCrc, decodeFrameHeader, type FrameHeader } from "./frame-format.js";
import { frameError } from "./transport-error.js";

/** Below this many payload bytes left, a read goes through the scratch buffer instead of directly. */
const DIRECT_READ_MIN_BYTES = 16 * 1024;

/** A complete frame. `payload` holds the buffers the sink gave, now filled ([] when none or discarded). */
export interface ParsedFrame {
  header: FrameHeader;
  meta: Uint8Array;
  payload: Uint8Array[];
  /** True when the sink chose to skip this frame's payload. */
  discarded: boolean;
}

/**
 * Chooses where a frame's payload goes, once its header and metadata have arrived and checked out:
 * buffers whose lengths add up to `header.payloadBytes`, or null to skip the payload.
 */
export type PayloadSink = (header: FrameHeader, meta: Uint8Array) => Uint8Array[] | null;

const enum State {
  Header,
  Meta,
  Payload,
  Failed,
}

/** Parses one direction of one connection. */
export class FrameReader {
  private state = State.Header;
  private readonly headerBuf = new Uint8Array(FRAME_HEADER_BYTES);
  private filled = 0;
  private header: FrameHeader | undefined;
  private meta: Uint8Array = new Uint8Array(0);
  private segments: Uint8Array[] = [];
  private discard = false;
  private seg = 0;
  private segFilled = 0;
  private payloadLeft = 0;

  constructor(
    private readonly sink: PayloadSink,
    private readonly onFrame: (frame: ParsedFrame) => void,
  ) {}

  /** True while part of a frame has arrived and the rest has not (the stream may not end here). */
  get midFrame(): boolean {
    return this.state !== State.Failed && (this.state !== State.Header || this.filled > 0);
  }

  /** Consume `chunk`; throws TransportError on a malformed frame (the reader is then failed). */
  feed(chunk: Uint8Array): void {
    let at = 0;
    try {
      while (at < chunk.length) {
        if (this.state === State.Failed) throw frameError("malformed", "frame", "the stream already failed");
        if (this.state === State.Payload) {
          at += this.take(chunk, at, chunk.length - at);
          continue;
        }
        const target = this.state === State.Header ? this.headerBuf : this.meta;
        const n = Math.min(target.length - this.filled, chunk.length - at);
        target.set(chunk.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled === target.length) this.advance();
      }
    } catch (err) {
      this.state = State.Failed;
      throw err;
    }
  }

  /** Where the next socket read may land directly (a part of the current payload buffer), if worth it. */
  directTarget(): Uint8Array | undefined {
    if (this.state !== State.Payload || this.discard) return undefined;
    const s = this.segments[this.seg];
    if (s.length - this.segFilled < DIRECT_READ_MIN_BYTES) return undefined;
    return s.subarray(this.segFilled);
  }

  /** Account for `n` bytes a socket read placed at {@link directTarget}. */
  advanceDirect(n: number): void {
    this.segFilled += n;
    this.payloadLeft -= n;
    this.settlePayload();
  }

  /** Payload bytes from `chunk[at, at+n)`; returns how many were used. */
  private take(chunk: Uint8Array, at: number, n: number): number {
    if (this.discard) {
      const used = Math.min(n, this.payloadLeft);
      this.payloadLeft -= used;
      this.settlePayload();
      return used;
    }
    const s = this.segments[this.seg];
    const used = Math.min(n, s.length - this.segFilled);
    s.set(chunk.subarray(at, at + used), this.segFilled);
    this.segFilled += used;
    this.payloadLeft -= used;
    this.settlePayload();
    return used;
  }

  /** Move past full segments; deliver the frame when the payload is complete. */
  private settlePayload(): void {
    while (this.seg < this.segments.length && this.segFilled === this.segments[this.seg].length && this.payloadLeft > 0) {
      this.seg++;
      this.segFilled = 0;
    }
    if (this.payloadLeft === 0) this.deliver();
  }

  /** The header or the metadata just completed. */
  private advance(): void {
    if (this.state === State.Header) {
      this.header = decodeFrameHeader(this.headerBuf);
      this.meta = new Uint8Array(this.header.metaBytes);
      this.filled = 0;
      this.state = State.Meta;
      if (this.header.metaBytes > 0) return;
    }
    const header = this.header!;
    checkFrameCrc(this.headerBuf, this.meta);
    const targets = this.sink(header, this.meta);
    this.discard = targets === null;
    this.segments = targets ?? [];
    if (targets !== null) {
      const total = targets.reduce((a, b) => a + b.length, 0);
      if (total !== header.payloadBytes)
        throw frameError(
          "mismatch",
          "frame.payload_bytes",
          `receiver buffers hold ${total} bytes, the frame declares ${header.payloadBytes}`,
        );
    }
    this.seg = 0;
    this.segFilled = 0;
    this.payloadLeft = header.payloadBytes;
    this.state = State.Payload;
    if (this.payloadLeft === 0) this.deliver();
  }

  private deliver(): void {
    const frame: ParsedFrame = {
      header: this.header!,
      meta: this.meta,
      payload: this.discard ? [] : this.segments,
      discarded: this.discard,
    };
    this.state = State.Header;
    this.filled = 0;
    this.header = undefined;
    this.segments = [];
    this.discard = false;
    this.onFrame(frame);
  }
}

/**
 * Reference parser: the whole stream at once, frame after frame, payload as one slice per frame.
 * The property test checks {@link FrameReader} against it on random splits.
 */
export function parseFramesReference(stream: Uint8Array): { header: FrameHeader; meta: Uint8Array; payload: Uint8Array }[] {
  const out: { header: FrameHeader; meta: Uint8Array; payload: Uint8Array }[] = [];
  let at = 0;
  while (at < stream.length) {
    if (stream.length - at < FRAME_HEADER_BYTES) throw frameError("truncated", "frame", "stream ends inside a frame header");
    const headerBytes = stream.subarray(at, at + FRAME_HEADER_BYTES);
    const header = decodeFrameHeader(headerBytes);
    const metaEnd = at + FRAME_HEADER_BYTES + header.metaBytes;
    const end = metaEnd + header.payloadBytes;
    if (end > stream.length) throw frameError("truncated", "frame", "stream ends inside a frame");
    const meta = stream.slice(at + FRAME_HEADER_BYTES, metaEnd);
    checkFrameCrc(headerBytes, meta);
    out.push({ header, meta, payload: stream.slice(metaEnd, end) });
    at = end;
  }
  return out;
}
