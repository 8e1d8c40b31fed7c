// A KvTierService on an ephemeral port that answers with canned events, for running the CLI
// against a real gRPC server before (and independently of) the real router.
import { Server, ServerCredentials, status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";
import { KvTierServiceService, type GenerateRequest, type GenerateResponse, type KvTierServiceServer, type TokenizeRequest, type TokenizeResponse } from "@kvtier/proto";

/** The fake router and what it was asked. */
export interface FakeRouter {
  address: string;
  requests: GenerateRequest[];
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

const USAGE = {
  promptTokens: 5,
  completionTokens: 3,
  cachedTokens: 4,
  cachedByTier: { device: 0, host: 4, ssd: 0 },
  computedPromptTokens: 1,
  loadedBytesByTier: { device: 0, host: 4096, ssd: 0 },
  transferredBytes: 8192,
  ttftMs: 12.5,
  prefillWorker: "prefill-1",
  decodeWorker: "decode-1",
  disaggregated: true,
};

/** Start the fake. A prompt "fail" gets INVALID_ARGUMENT naming max_tokens. */
export async function startFakeRouter(): Promise<FakeRouter> {
  const requests: GenerateRequest[] = [];
  const authorizations: (string | undefined)[] = [];
  const impl: KvTierServiceServer = {
    generate(call: ServerWritableStream<GenerateRequest, GenerateResponse>) {
      requests.push(call.request);
      authorizations.push(call.metadata.get("authorization")[0]?.toString());
      if (call.request.prompt === "fail") {
        call.emit("error", { code: status.INVALID_ARGUMENT, details: "max_tokens: must be at least 1" });
        return;
      }
      const lp = (id: number) => (call.request.logprobs > 0 ? [{ chosen: { tokenId: id, logprob: -0.5 }, top: [{ tokenId: id, logprob: -0.5 }] }] : []);
      call.write({ event: { $case: "started", value: { requestId: "req-1", promptTokens: 5 } } });
      call.write({ event: { $case: "tokens", value: { tokenIds: [10], text: " there", logprobs: lp(10) } } });
      call.write({ event: { $case: "tokens", value: { tokenIds: [11, 12], text: " was a", logprobs: [...lp(11), ...lp(12)] } } });
      call.write({ event: { $case: "finished", value: { finishReason: "length", usage: USAGE, textTail: "!" } } });
      call.end();
    },
    tokenize(call: ServerUnaryCall<TokenizeRequest, TokenizeResponse>, callback: sendUnaryData<TokenizeResponse>) {
      callback(null, { tokenIds: call.request.addBos ? [1, 403, 407] : [403, 407], pieces: call.request.addBos ? ["<s>", "Once", " upon"] : ["Once", " upon"] });
    },
  };
  const server = new Server();
  server.addService(KvTierServiceService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    requests,
    authorizations,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
