// Ephemeral ports for servers that cannot bind port 0 and report it (redis-server, nats-server).
// The port is free when returned but not reserved: callers retry on "address in use".
import { createServer, type AddressInfo } from "node:net";

/** The host every launched process binds to: local only. */
export const LOOPBACK_HOST = "127.0.0.1";

/** A TCP port that was free on `host` a moment ago. */
export function freePort(host = LOOPBACK_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
