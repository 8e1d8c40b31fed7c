// The services really use the fast data paths: on one machine, the prefill and decode workers
// move hand-off blocks through the co-located (shared-memory) path, and gRPC carries no block
// bytes at all, while generate requests run end to end.
import type { KvTierServiceClient } from "@kvtier/proto";
import type { Stack } from "@kvtier/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, request, routerClient } from "./client.js";
import { testStack } from "./stack.js";

const KEY = "key-alpha";
const PROMPTS = [
  "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends",
  "One day, a big brown dog came to the park. The dog was very friendly and wanted to play with the children",
  "Tom had a red ball. He liked to throw it high in the sky and catch it with his two small hands every day",
];

let stack: Stack;
let client: KvTierServiceClient;

beforeAll(async () => {
  stack = await testStack({ prefillWorkers: 1, decodeWorkers: 1 });
  client = routerClient(stack.routerAddress);
});
afterAll(async () => {
  client?.close();
  await stack?.stop();
});

/** Samples of `name` on the kvstore, by their `path` label (absent label sets count as 0). */
async function bytesByPath(name: string): Promise<Record<string, number>> {
  const kvstore = stack.processes.find((p) => p.service === "kvstore")!;
  const page = await (await fetch(`http://127.0.0.1:${kvstore.metricsPort}/metrics`)).text();
  const out: Record<string, number> = { grpc: 0, tcp: 0, shm: 0 };
  for (const line of page.split("\n")) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    const path = m?.[2].match(/path="(\w+)"/)?.[1];
    if (m && m[1] === name && path) out[path] += Number(m[3]);
  }
  return out;
}

describe("data paths, end to end", () => {
  it("hand-off blocks go through shared memory and gRPC carries no block bytes", async () => {
    for (const prompt of PROMPTS) {
      const r = await generate(client, request(prompt, 12), KEY);
      expect(r.usage.disaggregated).toBe(true);
      expect(r.usage.transferredBytes).toBeGreaterThan(0);
    }
    const written = await bytesByPath("kvtier_kvstore_written_bytes_total");
    const read = await bytesByPath("kvtier_kvstore_read_bytes_total");
    expect(written.shm).toBeGreaterThan(0);
    expect(read.shm).toBeGreaterThan(0);
    expect([written.grpc, read.grpc]).toEqual([0, 0]);
    expect([written.tcp, read.tcp]).toEqual([0, 0]);
  });
});
