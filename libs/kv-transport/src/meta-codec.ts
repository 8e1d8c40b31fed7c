// Bounds-checked writing and reading of a frame's metadata section (little-endian integers,
// length-prefixed UTF-8 strings, raw byte fields). A read past the end or a value out of range is
// a TransportError naming the field, never an exception of another shape.
import { frameError } from "./transport-error.js";

/** Largest value a 48-bit offset field holds (arena offsets). */
const MAX_U48 = 2 ** 48 - 1;

/** Appends fields to a growing buffer. */
export class MetaWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Reserve `n` bytes (growing the buffer) and return their offset; call before reading this.buf. */
  private room(n: number): number {
    if (this.at + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
      this.buf.copy(next, 0, 0, this.at);
      this.buf = next;
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf.writeUInt8(v, at);
    return this;
  }

  u32(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32LE(v, at);
    return this;
  }

  u48(v: number): this {
    const at = this.room(6);
    this.buf.writeUIntLE(v, at, 6);
    return this;
  }

  bytes(v: Uint8Array): this {
    const at = this.room(v.length);
    this.buf.set(v, at);
    return this;
  }

  /** A string of at most 65,535 UTF-8 bytes, u16 length first. */
  str(s: string): this {
    const b = Buffer.from(s, "utf8").subarray(0, 0xffff);
    const at = this.room(2);
    this.buf.writeUInt16LE(b.length, at);
    return this.bytes(b);
  }

  /** The bytes written so far (a view; the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Reads fields in order; `field` names are used in errors. */
export class MetaReader {
  private at = 0;
  private readonly view: Buffer;

  constructor(meta: Uint8Array) {
    this.view = Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength);
  }

  private take(n: number, field: string): number {
    if (this.at + n > this.view.length) throw frameError("malformed", field, `metadata ends before this field (${this.view.length} bytes)`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(field: string): number {
    return this.view.readUInt8(this.take(1, field));
  }

  u32(field: string): number {
    return this.view.readUInt32LE(this.take(4, field));
  }

  u48(field: string): number {
    const v = this.view.readUIntLE(this.take(6, field), 6);
    if (v > MAX_U48) throw frameError("malformed", field, "out of range");
    return v;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, field: string): Uint8Array {
    const at = this.take(n, field);
    const out = new Uint8Array(n);
    out.set(this.view.subarray(at, at + n));
    return out;
  }

  str(field: string): string {
    const n = this.view.readUInt16LE(this.take(2, field));
    const at = this.take(n, field);
    return this.view.toString("utf8", at, at + n);
  }

  /** Throw unless every byte was read: trailing bytes mean a mis-declared frame. */
  end(): void {
    if (this.at !== this.view.length)
      throw frameError("malformed", "frame.meta_bytes", `${this.view.length - this.at} unexpected trailing metadata bytes`);
  }
}
