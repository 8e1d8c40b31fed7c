// Test client of the router's gRPC API: runs one Generate and collects everything it streams.
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { KvTierServiceClient, type GenerateRequest, type PositionLogprobs, type Usage } from "@kvtier/proto";
import { GRPC_OPTIONS, insecureCredentials } from "@kvtier/platform";

export interface GenerateResult {
  requestId: string;
  text: string;
  tokens: number[];
  logprobs: PositionLogprobs[];
  finishReason: string;
  usage: Usage;
}

export function routerClient(address: string): KvTierServiceClient {
  return new KvTierServiceClient(address, insecureCredentials(), GRPC_OPTIONS);
}

export function request(prompt: string, maxTokens: number, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    prompt,
    maxTokens,
    sampling: undefined,
    stop: [],
    logprobs: 0,
    requestId: "",
    addBos: true,
    codec: "",
    policy: "",
    sessionId: "",
    ...extra,
  };
}

/** Run one Generate; rejects with the grpc ServiceError on a status. */
export function generate(
  client: KvTierServiceClient,
  req: GenerateRequest,
  apiKey?: string,
  onToken?: (n: number) => void,
  extraMetadata: Record<string, string> = {},
): Promise<GenerateResult> {
  const md = new Metadata();
  if (apiKey) md.set("authorization", `Bearer ${apiKey}`);
  for (const [k, v] of Object.entries(extraMetadata)) md.set(k, v);
  return new Promise((resolve, reject) => {
    const out: GenerateResult = {
      requestId: "",
      text: "",
      tokens: [],
      logprobs: [],
      finishReason: "",
      usage: undefined as unknown as Usage,
    };
    const call = client.generate(req, md);
    call.on("data", (msg: import("@kvtier/proto").GenerateResponse) => {
      const ev = msg.event;
      if (ev?.$case === "started") out.requestId = ev.value.requestId;
      else if (ev?.$case === "tokens") {
        out.tokens.push(...ev.value.tokenIds);
        out.text += ev.value.text;
        out.logprobs.push(...ev.value.logprobs);
        onToken?.(out.tokens.length);
      } else if (ev?.$case === "finished") {
        out.text += ev.value.textTail;
        out.finishReason = ev.value.finishReason;
        out.usage = ev.value.usage as Usage;
      }
    });
    call.on("error", (err: ServiceError) => reject(err));
    call.on("end", () => (out.usage ? resolve(out) : reject(new Error("stream ended without a Finished message"))));
  });
}
