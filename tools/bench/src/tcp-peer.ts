// The other end of the loopback baseline, in its own process: a plain TCP socket that either
// swallows N bytes and says "done" (the put direction) or pushes N bytes from a working set of
// blocks (the get direction). No framing, no copies beyond the kernel's: what the loopback carries.
import { randomFillSync } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";

/**
 * A command, one JSON line: swallow `bytes` on a connection of our own to `connectTo` (read with
 * `onread` into one reused buffer, as the bench reads in the other direction) and answer "done";
 * or push `bytes` in writes of `blockBytes` (after one "R" byte) on this connection.
 */
interface Command {
  mode: "sink" | "source";
  bytes: number;
  blockBytes: number;
  workingSetBytes: number;
  connectTo?: number;
}

/** The receiver's reused read buffer. */
const RECEIVE_BUFFER_BYTES = 256 * 1024;

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on("error", () => socket.destroy());
  let line = "";
  const onCommand = (chunk: Buffer): void => {
    line += chunk.toString("latin1");
    const nl = line.indexOf("\n");
    if (nl < 0) return;
    socket.off("data", onCommand);
    const cmd = JSON.parse(line.slice(0, nl)) as Command;
    if (cmd.mode === "sink") sink(cmd.connectTo!, cmd.bytes);
    else source(socket, cmd);
  };
  socket.on("data", onCommand);
}

function sink(port: number, bytes: number): void {
  let got = 0;
  const buffer = Buffer.allocUnsafeSlow(RECEIVE_BUFFER_BYTES);
  const s = connect({
    port,
    host: "127.0.0.1",
    noDelay: true,
    onread: {
      buffer,
      callback: (n) => {
        got += n;
        if (got >= bytes && s.writable) s.end("done\n");
        return true;
      },
    },
  });
  s.on("error", () => s.destroy());
}

function source(socket: Socket, cmd: Command): void {
  const blocks = Array.from({ length: Math.max(1, Math.floor(cmd.workingSetBytes / cmd.blockBytes)) }, () =>
    randomFillSync(Buffer.allocUnsafeSlow(cmd.blockBytes)),
  );
  socket.write("R"); // ready: the working set is built, timing may start
  let sent = 0;
  let i = 0;
  const pump = (): void => {
    while (sent < cmd.bytes) {
      const b = blocks[i++ % blocks.length];
      sent += b.length;
      if (!socket.write(b)) return void socket.once("drain", pump);
    }
    socket.end();
  };
  pump();
}

const server = createServer(serve);
server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(JSON.stringify({ event: "ready", port: typeof addr === "object" && addr ? addr.port : 0 }) + "\n");
});
process.on("SIGTERM", () => process.exit(0));
