// The other end of the loopback baseline, in its own process: a plain TCP socket that either
// swallows N bytes and says "done" (the put direction) or pushes N bytes from a working set of
// blocks (the get direction). No framing, no copies beyond the kernel's: what the loopback carries.
import { randomFillSync } from "node:crypto";
import { createServer, type Socket } from "node:net";

/** A command, one JSON line: swallow `bytes`, or push `bytes` in writes of `blockBytes` (after one "R" byte). */
interface Command {
  mode: "sink" | "source";
  bytes: number;
  blockBytes: number;
  workingSetBytes: number;
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let line = "";
  const onCommand = (chunk: Buffer): void => {
    line += chunk.toString("latin1");
    const nl = line.indexOf("\n");
    if (nl < 0) return;
    socket.off("data", onCommand);
    const cmd = JSON.parse(line.slice(0, nl)) as Command;
    if (cmd.mode === "sink") sink(socket, cmd.bytes, line.length - nl - 1); // latin1: one char per byte
    else source(socket, cmd);
  };
  socket.on("data", onCommand);
}

function sink(socket: Socket, bytes: number, already: number): void {
  let got = already;
  socket.on("data", (d: Buffer) => {
    got += d.length;
    if (got >= bytes) socket.end("done\n");
  });
}

function source(socket: Socket, cmd: Command): void {
  const blocks = Array.from({ length: Math.max(1, Math.floor(cmd.workingSetBytes / cmd.blockBytes)) }, () => randomFillSync(Buffer.allocUnsafeSlow(cmd.blockBytes)));
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
