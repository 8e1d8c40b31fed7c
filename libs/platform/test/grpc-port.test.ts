// GrpcPort's connection limits with short settings: a peer that finishes its handshake and then
// falls silent is closed, the port holds at most its cap of connections, and a real client's
// calls go through the same port untouched.
import { connect, type Socket } from "node:net";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { KvTierServiceClient, KvTierServiceService } from "@kvtier/proto";
import { afterEach, describe, expect, it } from "vitest";
import { addGuardedService } from "../src/grpc-guard.js";
import { GRPC_OPTIONS, GrpcPort, createGrpcServer } from "../src/grpc.js";

/** The HTTP/2 client preface and an empty SETTINGS frame: a finished handshake. */
const HANDSHAKE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const LIMITS = { handshakeBytes: HANDSHAKE.length, handshakeTimeoutMs: 400, silentTimeoutMs: 1_500, maxConnections: 3 };

let port: GrpcPort | undefined;
afterEach(async () => {
  await port?.shutdown(100);
  port = undefined;
});

async function serve(): Promise<GrpcPort> {
  const server = createGrpcServer();
  addGuardedService(server, KvTierServiceService, {
    generate: (call: { end(): void }) => call.end(),
    tokenize: (_call: unknown, cb: (err: null, res: { tokenIds: number[]; pieces: string[] }) => void) =>
      cb(null, { tokenIds: [7], pieces: ["x"] }),
  });
  return GrpcPort.bind(server, "127.0.0.1", 0, LIMITS);
}

/** A raw connection that sends `bytes`; `closed` resolves when the server drops it. */
function rawPeer(p: number, bytes: Uint8Array): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = connect(p, "127.0.0.1", () => {
      socket.write(bytes);
      resolve({ socket, closed });
    });
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now() - t0)));
  });
}

describe("GrpcPort connection limits", () => {
  it("closes a peer that finished its handshake and then fell silent, not before the limit", async () => {
    port = await serve();
    const { closed } = await rawPeer(port.port, HANDSHAKE);
    const after = await closed;
    expect(after).toBeGreaterThanOrEqual(LIMITS.silentTimeoutMs);
    expect(port.connections).toBe(0);
  });

  it("holds at most its cap of connections; calls go through meanwhile", async () => {
    port = await serve();
    const client = new KvTierServiceClient(`127.0.0.1:${port.port}`, credentials.createInsecure(), GRPC_OPTIONS);
    const tokenize = (): Promise<number> =>
      new Promise((resolve) =>
        client.tokenize({ text: "x", addBos: false }, (err: ServiceError | null) => resolve(err ? err.code : status.OK)),
      );
    expect(await tokenize()).toBe(status.OK); // one connection: the client's
    const peers = await Promise.all([rawPeer(port.port, HANDSHAKE), rawPeer(port.port, HANDSHAKE), rawPeer(port.port, HANDSHAKE)]);
    // two fit beside the client; the third is closed as it arrives
    const first = await Promise.race(peers.map((p, i) => p.closed.then(() => i)));
    expect(first).toBe(2);
    expect(port.connections).toBe(3);
    expect(await tokenize()).toBe(status.OK);
    for (const p of peers) p.socket.destroy();
    client.close();
  });
});
