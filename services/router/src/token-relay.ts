// Relays a decode worker's stream to the client as text: tokens through the detokenizer (stop
// strings honoured), then one Finished with usage; records TTFT, time per token and the tokens
// the workers actually loaded from cache. Ends the stream only on Finished.
import { performance } from "node:perf_hooks";
import type { DecodeResponse, GenerateResponse } from "@kvtier/proto";
import { KvtierError, type PlannedRequest } from "@kvtier/platform";
import { TextStream } from "@kvtier/serving";
import type { Tokenizer } from "@kvtier/tensor";
import type { RouterMetrics } from "./router-metrics.js";

/** What the relay needs of the running request. */
export interface RelayedRequest {
  plan: PlannedRequest;
  firstTokenSeen: boolean;
}

/** Relays until Finished; calls `onFirstToken` once. Throws UNAVAILABLE if the stream ends early. */
export async function relayTokens(
  run: RelayedRequest,
  it: AsyncIterator<DecodeResponse>,
  tokens: readonly number[],
  stop: string[],
  t0: number,
  write: (ev: GenerateResponse) => void,
  deps: { tokenizer: Tokenizer; metrics: RouterMetrics; onFirstToken: () => void },
): Promise<void> {
  const { metrics } = deps;
  const text = new TextStream(deps.tokenizer, tokens[tokens.length - 1], stop);
  let firstAt = 0;
  let count = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) throw new KvtierError("UNAVAILABLE", `decode worker ${run.plan.decodeWorker} ended the stream without finishing`);
    const ev = r.value.event;
    if (ev?.$case === "token") {
      count += 1;
      if (!run.firstTokenSeen) {
        run.firstTokenSeen = true;
        firstAt = performance.now();
        metrics.ttft.observe((firstAt - t0) / 1000);
        deps.onFirstToken();
      }
      const step = text.push(ev.value.tokenId);
      write({
        event: {
          $case: "tokens",
          value: { tokenIds: [ev.value.tokenId], text: step.text, logprobs: ev.value.logprobs ? [ev.value.logprobs] : [] },
        },
      });
    } else if (ev?.$case === "finished") {
      const f = ev.value;
      if (count > 1) metrics.tpot.observe((performance.now() - firstAt) / 1000 / (count - 1));
      const cachedByTier = f.cachedByTier ?? { device: 0, host: 0, ssd: 0 };
      metrics.prefixTokens.inc({ kind: "loaded" }, f.cachedTokens);
      for (const tier of ["device", "host", "ssd"] as const) metrics.cachedByTier.inc({ tier }, cachedByTier[tier]);
      write({
        event: {
          $case: "finished",
          value: {
            finishReason: f.finishReason,
            textTail: text.finish(),
            usage: {
              promptTokens: tokens.length,
              completionTokens: f.completionTokens,
              cachedTokens: f.cachedTokens,
              cachedByTier,
              computedPromptTokens: tokens.length - f.cachedTokens,
              loadedBytesByTier: f.loadedBytesByTier ?? { device: 0, host: 0, ssd: 0 },
              transferredBytes: f.transferredBytes,
              ttftMs: firstAt ? firstAt - t0 : 0,
              prefillWorker: run.plan.prefillWorker,
              decodeWorker: run.plan.decodeWorker,
              disaggregated: f.disaggregated,
              codec: run.plan.codec,
              policy: run.plan.policy,
              keptKvEntries: f.keptKvEntries,
              promptKvEntries: f.promptKvEntries,
            },
          },
        },
      });
      return;
    }
  }
}
