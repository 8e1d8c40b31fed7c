// The decode worker's gRPC adapter (grpc-service.ts) on a real server and client: a request whose
// KV arrives streams admitted, its tokens and finished and ends OK; refusals reach the caller as
// statuses (RESOURCE_EXHAUSTED with the retry-after-ms trailer, INVALID_ARGUMENT naming the plan
// field); a caller that goes away cancels its session, whose room comes back.
import { status, type Metadata } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  GrpcPort,
  ServiceToken,
  addGuardedService,
  createGrpcServer,
  insecureCredentials,
  internalClientOptions,
  planToWire,
  type PlannedRequest,
} from "@kvtier/platform";
import { DecodeWorkerServiceClient, DecodeWorkerServiceService, type DecodeResponse } from "@kvtier/proto";
import { decodeService } from "../src/grpc-service.js";
import { DecodeHarness, LONG_MAX_TOKENS, SHORT_MAX_TOKENS, type DecodeScenario } from "./support/decode-harness.js";

/** How long the server may take to finish its calls when a test ends, in ms. */
const SHUTDOWN_GRACE_MS = 1_000;
/** Upper bound on waiting for the worker to see a caller's cancel, in ms (the wait ends as soon as it does). */
const CANCEL_SEEN_WITHIN_MS = 5_000;

/** A Decode call in progress: its events, and its final status (trailers included). */
interface DecodeCall {
  events: DecodeResponse[];
  admitted: Promise<void>;
  status: Promise<{ code: number; details: string; metadata: Metadata }>;
  cancel(): void;
}

/** The scenario's worker behind a real gRPC server, and a client presenting the service token. */
async function serve(s: DecodeScenario): Promise<{ call(plan: PlannedRequest | undefined): DecodeCall; close(): Promise<void> }> {
  const token = ServiceToken.generate();
  const server = createGrpcServer({ serviceToken: token });
  addGuardedService(server, DecodeWorkerServiceService, decodeService(s.worker, h.log));
  const port = await GrpcPort.bind(server, "127.0.0.1", 0);
  const client = new DecodeWorkerServiceClient(`127.0.0.1:${port.port}`, insecureCredentials(), internalClientOptions(token));
  return {
    call: (plan) => {
      const stream = client.decode({ plan: plan && planToWire(plan) });
      const events: DecodeResponse[] = [];
      const admitted = new Promise<void>((resolve) =>
        stream.on("data", (ev: DecodeResponse) => {
          events.push(ev);
          if (ev.event?.$case === "admitted") resolve();
        }),
      );
      stream.on("error", () => undefined); // the status below says how it ended
      const ended = new Promise<{ code: number; details: string; metadata: Metadata }>((resolve) => stream.on("status", resolve));
      return { events, admitted, status: ended, cancel: () => stream.cancel() };
    },
    close: async () => {
      client.close();
      await port.shutdown(SHUTDOWN_GRACE_MS);
    },
  };
}

let h: DecodeHarness;
const stops: Array<() => Promise<void>> = [];
beforeAll(async () => {
  h = await DecodeHarness.start();
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h?.closeScenarios();
});
afterAll(async () => {
  await h?.close();
});

describe("DecodeWorkerService.Decode", () => {
  it("streams admitted, the tokens and finished once the KV arrives, and ends OK", async () => {
    const s = await h.scenario();
    const grpc = await serve(s);
    stops.push(grpc.close);
    const plan = s.plan("req-grpc");
    const call = grpc.call(plan);
    await call.admitted;
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: true, reason: "" });
    expect((await call.status).code).toBe(status.OK);
    const kinds = call.events.map((e) => e.event?.$case);
    expect(kinds).toEqual(["admitted", ...Array<string>(SHORT_MAX_TOKENS).fill("token"), "finished"]);
    await s.expectIdle();
  });

  it("refuses with RESOURCE_EXHAUSTED and a retry-after-ms trailer when the pool is full, and INVALID_ARGUMENT naming a bad plan field", async () => {
    const s = await h.scenario();
    const grpc = await serve(s);
    stops.push(grpc.close);
    await s.admit(s.plan("req-holder", { maxTokens: LONG_MAX_TOKENS }));
    const full = await grpc.call(s.plan("req-no-room", { maxTokens: LONG_MAX_TOKENS })).status;
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(Number(full.metadata.get("retry-after-ms")[0])).toBeGreaterThan(0);

    const bad = await grpc.call({ ...s.plan("req-bad"), tokens: [] }).status;
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/plan\.token_ids/);
    expect((await grpc.call(undefined).status).code).toBe(status.INVALID_ARGUMENT);
  });

  it("cancels the session of a caller that goes away, and its room comes back", async () => {
    const s = await h.scenario();
    const grpc = await serve(s);
    stops.push(grpc.close);
    const plan = s.plan("req-caller-gone", { maxTokens: LONG_MAX_TOKENS });
    const call = grpc.call(plan);
    await call.admitted;
    expect(s.worker.load().runningRequests).toBe(1);
    call.cancel();
    expect((await call.status).code).toBe(status.CANCELLED);
    await vi.waitFor(() => expect(s.worker.load().runningRequests).toBe(0), { timeout: CANCEL_SEEN_WITHIN_MS });
    await s.expectIdle();
    expect(await s.send(await s.handOff(plan))).toEqual({ accepted: false, reason: "unknown request" });
  });
});
