// Stands in for a decode worker's KvReady endpoint in the prefill tests: a real NATS subscription
// on the decode worker's subject that records every notice and answers as the test says (accept,
// refuse, or never answer, like a hung worker). The decode worker's own handling of KvReady is
// tested in services/decode.
import type { Subscription } from "@nats-io/transport-node";
import type { NatsConnection } from "@kvtier/platform";
import { KvReady, KvReadyAck } from "@kvtier/proto";

/** How the stand-in answers a KvReady: with an ack, or not at all (a hung decode worker). */
export type KvReadyAnswer = KvReadyAck | "silent";

/** Listens on a decode worker's KvReady subject, records every notice and answers as told. */
export class DecodeStandIn {
  private readonly received: KvReady[] = [];
  private sub: Subscription | undefined;

  private constructor(private readonly nc: NatsConnection) {}

  static async listen(nc: NatsConnection, subject: string, answer: KvReadyAnswer): Promise<DecodeStandIn> {
    const s = new DecodeStandIn(nc);
    s.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        s.received.push(KvReady.decode(msg.data));
        if (answer !== "silent") msg.respond(KvReadyAck.encode(answer).finish());
      },
    });
    await nc.flush(); // the server knows the subscription before any test sends to it
    return s;
  }

  /** Every notice the server routed here so far (after a round trip, so none is still on its way). */
  async notices(): Promise<KvReady[]> {
    await this.nc.flush();
    return [...this.received];
  }

  close(): void {
    this.sub?.unsubscribe();
  }
}
