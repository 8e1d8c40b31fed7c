// NATS adapter of the decode worker: KV-ready requests (request/reply) and cancel broadcasts.
import { CancelRequest, KvReady, KvReadyAck } from "@kvtier/proto";
import { cancelSubject, kvReadySubject, messageOf, type Logger, type NatsConnection } from "@kvtier/platform";
import type { Subscription } from "@nats-io/transport-node";
import type { DecodeWorker } from "./decode-worker.js";

export function subscribeDecode(nc: NatsConnection, ns: string, workerId: string, worker: DecodeWorker, log: Logger): Subscription[] {
  const ready = nc.subscribe(kvReadySubject(ns, workerId), {
    callback: (err, msg) => {
      if (err) return log.warn("kv-ready subscription error", { err: messageOf(err) });
      let notice: KvReady;
      try {
        notice = KvReady.decode(msg.data);
      } catch (e) {
        msg.respond(KvReadyAck.encode({ accepted: false, reason: `undecodable KvReady: ${messageOf(e)}` }).finish());
        return;
      }
      worker
        .onKvReady(notice, msg.headers?.get("traceparent") || undefined)
        .then((ack) => msg.respond(KvReadyAck.encode(ack).finish()))
        .catch((e: unknown) => msg.respond(KvReadyAck.encode({ accepted: false, reason: messageOf(e) }).finish()));
    },
  });
  const cancel = nc.subscribe(cancelSubject(ns), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const c = CancelRequest.decode(msg.data);
        worker.cancel(c.requestId, c.reason);
      } catch (e) {
        log.warn("bad cancel message", { err: messageOf(e) });
      }
    },
  });
  return [ready, cancel];
}
