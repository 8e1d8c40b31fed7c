// A TCP proxy in front of a real server that flips one bit of one byte in transit, at a chosen
// offset of one direction of the first connection: the fault that receive-side checksums exist to
// catch. Everything else passes through unchanged.
import { connect, createServer, type Server, type Socket } from "node:net";

/** Which way the corrupted byte travels. */
export type Direction = "to-client" | "to-server";

/** A running proxy. */
export interface CorruptingProxy {
  /** host:port to connect to instead of the server. */
  endpoint: string;
  /** True once the byte was flipped. */
  readonly flipped: boolean;
  close(): Promise<void>;
}

/** Proxy to `target`, flipping the byte at `offset` of `direction` on the first connection. */
export async function startCorruptingProxy(
  target: { host: string; port: number },
  direction: Direction,
  offset: number,
): Promise<CorruptingProxy> {
  let flipped = false;
  let first = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const corrupt = first;
    first = false;
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    let seen = 0;
    const pipe = (from: Socket, to: Socket, dir: Direction): void => {
      from.on("data", (chunk: Buffer) => {
        if (corrupt && dir === direction && !flipped && offset >= seen && offset < seen + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[offset - seen] ^= 0x20;
          flipped = true;
        }
        if (dir === direction) seen += chunk.length;
        to.write(chunk);
      });
      from.on("end", () => to.end());
      from.on("close", () => to.destroy());
    };
    pipe(upstream, client, "to-client");
    pipe(client, upstream, "to-server");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    endpoint: `127.0.0.1:${port}`,
    get flipped() {
      return flipped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
