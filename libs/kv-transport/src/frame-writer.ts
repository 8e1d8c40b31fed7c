// Writes a frame to a socket without copying its payload: header and metadata go in one small
// buffer, each payload buffer is passed by reference, and cork/uncork turns them into one writev.
import type { Socket } from "node:net";
import { encodeFrameHeader, type FrameHeader } from "./frame-format.js";

/** Metadata up to this size is merged with the header into one buffer. */
const MERGE_META_BYTES = 64 * 1024;

/** The bytes of one frame, as buffers to send in order (payload buffers are not copied). */
export function frameParts(header: Omit<FrameHeader, "metaBytes">, meta: Uint8Array, payload: readonly Uint8Array[] = []): Uint8Array[] {
  const head = encodeFrameHeader({ ...header, metaBytes: meta.length }, meta);
  const first = meta.length <= MERGE_META_BYTES ? [Buffer.concat([head, meta])] : [head, meta];
  return payload.length === 0 ? first : [...first, ...payload.filter((p) => p.length > 0)];
}

/**
 * Write one frame. Returns false when the socket's buffer is over its high-water mark (the
 * caller may wait for "drain"); the bytes are queued either way.
 */
export function writeFrame(
  socket: Socket,
  header: Omit<FrameHeader, "metaBytes">,
  meta: Uint8Array,
  payload: readonly Uint8Array[] = [],
): boolean {
  if (socket.destroyed || !socket.writable) return false;
  const parts = frameParts(header, meta, payload);
  if (parts.length === 1) return socket.write(parts[0]);
  socket.cork();
  let ok = true;
  for (const p of parts) ok = socket.write(p) && ok;
  socket.uncork();
  return ok;
}
