// One request is one trace: the caller's traceparent is continued by the router, and the router,
// prefill and decode spans of a disaggregated request (gRPC metadata, BullMQ job data, NATS
// headers) all carry its trace id.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@kvtier/local-stack";
import { internalRequestId } from "@kvtier/platform";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { testStack } from "./stack.js";

interface SpanLine {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

const traceDir = mkdtempSync(join(tmpdir(), "kvtier-traces-"));
let stack: Stack;

beforeAll(async () => {
  stack = await testStack({ env: { KVTIER_TRACE_DIR: traceDir } });
});
afterAll(async () => {
  await stack?.stop();
});

function spans(): SpanLine[] {
  return readdirSync(traceDir).flatMap((f) =>
    readFileSync(join(traceDir, f), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SpanLine),
  );
}

it("router, prefill and decode spans of one request share the caller's trace", async () => {
  const traceId = randomBytes(16).toString("hex");
  const parent = randomBytes(8).toString("hex");
  const client = routerClient(stack.routerAddress);
  const r = await generate(
    client,
    request("Once upon a time, there was a little dog named Max who liked to run", 8),
    "key-alpha",
    undefined,
    {
      traceparent: `00-${traceId}-${parent}-01`,
    },
  );
  client.close();
  expect(r.usage.disaggregated).toBe(true);
  await new Promise((res) => setTimeout(res, 300)); // decode ends its span after the last write
  const mine = spans().filter((s) => s.attributes["kvtier.request_id"] === internalRequestId("alpha", r.requestId));
  expect(new Set(mine.map((s) => s.service))).toEqual(new Set(["router", "prefill", "decode"]));
  for (const s of mine) expect(s.traceId).toBe(traceId);
  const root = mine.find((s) => s.name === "kvtier.generate")!;
  expect(root.parentSpanId).toBe(parent);
  const prefill = mine.find((s) => s.name === "kvtier.prefill")!;
  expect(prefill.parentSpanId).toBe(root.spanId);
  const handoff = mine.find((s) => s.name === "kvtier.handoff.load")!;
  expect(handoff.parentSpanId).toBe(prefill.spanId); // crossed NATS in the KvReady headers
});
