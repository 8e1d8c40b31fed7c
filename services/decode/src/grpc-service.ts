// gRPC adapter of the decode worker: DecodeWorkerService.Decode. Wire types are parsed here;
// every error becomes a gRPC status here and nowhere else.
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { DecodeRequest, DecodeResponse, DecodeWorkerServiceServer } from "@kvtier/proto";
import { KvtierError, planFromWire, toGrpcStatus, type Logger } from "@kvtier/platform";
import type { DecodeWorker } from "./decode-worker.js";

export function decodeService(worker: DecodeWorker, log: Logger): DecodeWorkerServiceServer {
  return {
    decode(call: ServerWritableStream<DecodeRequest, DecodeResponse>): void {
      let ended = false;
      const fail = (err: unknown): void => {
        if (ended) return;
        ended = true;
        call.emit("error", toGrpcStatus(err));
      };
      const sink = {
        write: (ev: DecodeResponse): void => {
          if (!ended) call.write(ev);
        },
        fail: (err: KvtierError): void => fail(err),
      };
      // the caller may go away while admission runs: the session it gets is aborted at once
      const gone = { cancelled: false, abort: (): void => undefined };
      call.on("cancelled", () => {
        gone.cancelled = true;
        gone.abort();
      });
      let plan;
      try {
        plan = planFromWire(call.request.plan);
      } catch (err) {
        fail(err);
        return;
      }
      worker
        .admit(plan, sink)
        .then((session) => {
          gone.abort = () => session.abort(new KvtierError("CANCELLED", "caller went away"));
          if (gone.cancelled) gone.abort();
          session.whenEnded(() => {
            if (!ended) {
              ended = true;
              call.end();
            }
          });
        })
        .catch((err: unknown) => {
          log.info("admission refused", { requestId: plan.requestId, err: err instanceof Error ? err.message : String(err) });
          fail(err);
        });
    },
  };
}
