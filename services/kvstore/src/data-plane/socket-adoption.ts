// Node 20's net.Server cannot give accepted sockets an `onread` buffer (clients can), so the
// fast port would read every payload into fresh 64 KiB chunks and copy them into block buffers,
// allocating and collecting ~16,000 buffers per GiB. Adopting the accepted handle into a socket
// created with `onread` lets the kernel read straight into the block buffers instead. It relies
// on the socket's `_handle`, so it checks for it and answers undefined (plain 'data' events are
// used then) when a Node version does not have it.
import { Socket, type OnReadOpts } from "node:net";

interface HandleCarrier {
  _handle?: { readStart?: unknown } | null;
}

/**
 * A socket reading through `onread` on the connection `accepted` holds (accepted with
 * pauseOnConnect, so nothing was read yet); `accepted` is released. Undefined when not possible.
 */
export function adoptWithOnread(accepted: Socket, onread: OnReadOpts, allowHalfOpen: boolean): Socket | undefined {
  const carrier = accepted as unknown as HandleCarrier;
  const handle = carrier._handle;
  if (!handle || typeof handle.readStart !== "function") return undefined;
  carrier._handle = null;
  const adopted = new Socket({ handle, onread, allowHalfOpen, readable: true, writable: true } as unknown as ConstructorParameters<
    typeof Socket
  >[0]);
  accepted.destroy(); // no handle left: only the server's connection count and listeners are released
  return adopted;
}
