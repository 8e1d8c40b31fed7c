// gRPC adapter of the router: KvTierService (Generate, Tokenize). Authenticates, parses the wire
// request, and maps every error to a status here and nowhere else.
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import type { GenerateRequest, GenerateResponse, KvTierServiceServer, TokenizeRequest, TokenizeResponse } from "@kvtier/proto";
import { KvtierError, invalidArgument, toGrpcStatus, type Logger } from "@kvtier/platform";
import { KNOWN_CODECS } from "@kvtier/tensor";
import { authenticate } from "./auth.js";
import { MAX_PROMPT_BYTES, type RouterConfig } from "./config.js";
import { parseGenerateRequest } from "./generate-params.js";
import type { RequestRunner } from "./request-runner.js";

/**
 * The client-facing service. Final statuses are counted by the server's guard (createGrpcServer's
 * onCallEnd), so a call that is cancelled or refused before it gets here is counted too.
 */
export function kvTierService(cfg: RouterConfig, runner: RequestRunner, log: Logger): KvTierServiceServer {
  return {
    generate(call: ServerWritableStream<GenerateRequest, GenerateResponse>): void {
      // the caller may go away at any moment, even before the runner starts: the signal keeps it
      const gone = new AbortController();
      call.on("cancelled", () => gone.abort());
      let done = false;
      const end = (err?: unknown): void => {
        if (done || gone.signal.aborted) return; // a cancelled call can be sent nothing more
        done = true;
        if (err === undefined) {
          call.end();
          return;
        }
        const st = toGrpcStatus(err);
        if (!(err instanceof KvtierError)) log.error("generate failed", { err: st.details });
        call.emit("error", st);
      };
      try {
        const tenant = authenticate(call.metadata, cfg.apiKeys, cfg.allowAnonymous);
        const params = parseGenerateRequest(call.request, cfg.defaultCodec, KNOWN_CODECS, cfg.defaultPolicy, cfg.blockSize);
        const deadline = call.getDeadline();
        const traceparent = call.metadata.get("traceparent")[0];
        runner
          .generate(
            tenant,
            params,
            (ev) => !done && !gone.signal.aborted && call.write(ev),
            gone.signal,
            deadline instanceof Date ? deadline : undefined,
            typeof traceparent === "string" ? traceparent : undefined,
          )
          .then(
            () => end(),
            (err: unknown) => end(err),
          );
      } catch (err) {
        end(err);
      }
    },

    tokenize(call: ServerUnaryCall<TokenizeRequest, TokenizeResponse>, callback: sendUnaryData<TokenizeResponse>): void {
      try {
        authenticate(call.metadata, cfg.apiKeys, cfg.allowAnonymous);
        if (Buffer.byteLength(call.request.text) > MAX_PROMPT_BYTES) throw invalidArgument("text", `longer than ${MAX_PROMPT_BYTES} bytes`);
        runner.tokenize(call.request.text, call.request.addBos).then(
          (ids) => callback(null, { tokenIds: ids, pieces: runner.pieces(ids) }),
          (err: unknown) => callback(toGrpcStatus(err)),
        );
      } catch (err) {
        callback(toGrpcStatus(err));
      }
    },
  };
}
