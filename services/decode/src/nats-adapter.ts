// NATS adapter of the decode worker: KV-ready requests (request/reply), with the prefill span's
// trace context taken from the message headers.
import { KvReady, KvReadyAck } from "@kvtier/proto";
import { kvReadySubject, messageOf, type Logger, type NatsConnection } from "@kvtier/platform";
import type { DecodeWorker } from "./decode-worker.js";

export function subscribeKvReady(
  nc: NatsConnection,
  ns: string,
  workerId: string,
  worker: DecodeWorker,
  log: Logger,
): { unsubscribe(): void } {
  return nc.subscribe(kvReadySubject(ns, workerId), {
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
}
