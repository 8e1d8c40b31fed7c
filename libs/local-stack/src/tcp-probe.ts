// Readiness probes over raw TCP, so that the launcher needs no Redis or NATS client library.
import { connect } from "node:net";
import { LOOPBACK_HOST } from "./free-port.js";

/** How long one probe attempt may take before it counts as "not yet". */
const PROBE_ATTEMPT_TIMEOUT_MS = 1_000;

/** What a probe sends after connecting (if anything) and which reply means "ready". */
export interface TcpProbe {
  /** Bytes written once connected, e.g. "PING\r\n". */
  send?: string;
  /** True once the bytes received so far show the server is ready. */
  ready(received: string): boolean;
}

/** Redis answers an inline PING with "+PONG". */
export const REDIS_PING_PROBE: TcpProbe = { send: "PING\r\n", ready: (r) => r.startsWith("+PONG") };

/** A NATS server greets every new connection with an INFO line. */
export const NATS_INFO_PROBE: TcpProbe = { ready: (r) => r.startsWith("INFO ") && r.includes("\r\n") };

/** One attempt: connect to `port`, run the probe, resolve true when it sees "ready". Never rejects. */
export function probeOnce(port: number, probe: TcpProbe, host = LOOPBACK_HOST): Promise<boolean> {
  return new Promise((resolve) => {
    let received = "";
    const socket = connect({ port, host });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), PROBE_ATTEMPT_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.once("connect", () => {
      if (probe.send !== undefined) socket.write(probe.send);
    });
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (probe.ready(received)) finish(true);
    });
    socket.once("error", () => finish(false));
    socket.once("close", () => finish(false));
  });
}
