// What a careless or hostile client can do to a real stack, and what must hold: connections that
// never finish their handshake are closed on every listening port (router, kvstore gRPC and fast
// port, decode worker); a request that does not parse is INVALID_ARGUMENT, never INTERNAL; a
// cancel that arrives at once stops the request everywhere; every Generate that reached the
// router is counted once with its final status.
import { connect, type Socket } from "node:net";
import { Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { GRPC_HANDSHAKE_TIMEOUT_MS } from "@kvtier/platform";
import { describe, expect, it } from "vitest";
import { request } from "./client.js";
import { eventually, metricWithLabels } from "./index-probe.js";
import { kvstoreClient, kvstoreFastPort, scrape, stackForFile } from "./stack.js";

/** The router's limit on a prompt (services/router config.ts MAX_PROMPT_BYTES). */
const MAX_PROMPT_BYTES = 256 * 1024;
/** Bytes that are not a protobuf message: field 1 (a string) declares 255 bytes, 2 follow. */
const NOT_A_MESSAGE = Buffer.from([0x0a, 0xff, 0x01, 0x41, 0x42]);
/** Requests cancelled right after they were sent. */
const CANCELLED_REQUESTS = 10;
const CANCEL_MAX_TOKENS = 200;

const file = stackForFile({ prefillWorkers: 1, decodeWorkers: 1 });

/** Open a raw TCP connection, send `bytes`, and resolve once the server closes it. */
function lingering(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, "127.0.0.1", () => {
      if (bytes.length > 0) s.write(bytes);
    });
    s.on("data", () => undefined);
    s.on("error", () => undefined);
    s.on("close", () => resolve());
  });
}

const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));

/** Call `path` with raw request bytes; resolves to the status code it ends with. */
function rawCall(c: Client, path: string, bytes: Buffer, streaming: boolean): Promise<number> {
  const md = new Metadata();
  md.set("authorization", "Bearer key-alpha");
  const pass = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    if (!streaming) {
      c.makeUnaryRequest(path, pass, pass, bytes, md, (err: ServiceError | null) => resolve(err ? err.code : status.OK));
      return;
    }
    const call = c.makeServerStreamRequest(path, pass, pass, bytes, md);
    call.on("data", () => undefined);
    call.on("error", (e: ServiceError) => resolve(e.code));
    call.on("end", () => resolve(status.OK));
  });
}

describe("hostile and careless clients", () => {
  it("closes connections that send a truncated HTTP/2 preface, or nothing, on every port", async () => {
    const { stack, client } = file;
    const ports = {
      router: portOf(stack.routerAddress),
      kvstore: portOf(stack.kvstoreEndpoint),
      fast: await kvstoreFastPort(stack),
      decode: stack.process("decode-1").port!,
    };
    const t0 = Date.now();
    const truncated = Buffer.from("PRI * HTTP/2.0\r\n");
    await Promise.all(Object.values(ports).flatMap((p) => [lingering(p, truncated), lingering(p, new Uint8Array(0))]));
    // the slowest limit is the gRPC handshake's (the fast port's AUTH limit is shorter); the sweep runs every second
    expect(Date.now() - t0).toBeLessThan(GRPC_HANDSHAKE_TIMEOUT_MS + 5_000);
    // and the services still serve
    const tok = await new Promise<number[]>((resolve, reject) => {
      const md = new Metadata();
      md.set("authorization", "Bearer key-alpha");
      client.tokenize({ text: "Once upon a time", addBos: true }, md, (err, res) => (err ? reject(err) : resolve(res.tokenIds)));
    });
    expect(tok.length).toBeGreaterThan(1);
  }, 40_000);

  it("keeps answering other requests while a maximum-size prompt is tokenized, or refused before it is", async () => {
    const { client } = file;
    const md = new Metadata();
    md.set("authorization", "Bearer key-alpha");
    const sentence = "Once upon a time there was a little girl named Lily. She liked to play outside. ";
    const huge = sentence.repeat(Math.floor(MAX_PROMPT_BYTES / sentence.length));
    // Generate: refused from its length alone (stories260K's context is 512 tokens)
    const generateCode = new Promise<ServiceError | undefined>((resolve) => {
      const call = client.generate(request(huge, 8), md);
      call.on("data", () => undefined);
      call.on("error", (e: ServiceError) => resolve(e));
      call.on("end", () => resolve(undefined));
    });
    // Tokenize: no context to fit, so all of it is tokenized, giving the event loop back as it goes
    const tokenized = new Promise<number>((resolve, reject) =>
      client.tokenize({ text: huge, addBos: true }, md, (err, res) => (err ? reject(err) : resolve(res.tokenIds.length))),
    );
    // meanwhile small requests, each with a 2 s deadline, are answered
    const small = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<number>((resolve) =>
            setTimeout(
              () =>
                client.tokenize({ text: `Once upon a time ${i}`, addBos: true }, md, { deadline: Date.now() + 2_000 }, (err) =>
                  resolve(err ? err.code : status.OK),
                ),
              i * 25,
            ),
          ),
      ),
    );
    expect(small).toEqual(Array<number>(20).fill(status.OK));
    const refused = await generateCode;
    expect(refused?.code).toBe(status.INVALID_ARGUMENT);
    expect(refused?.details).toMatch(/^prompt: at least \d+ tokens \(from its length\) do not fit the model context of 512/);
    expect(await tokenized).toBeGreaterThan(huge.length / 10);
  });

  it("answers a request that does not parse INVALID_ARGUMENT, and counts it", async () => {
    const { stack, client } = file;
    const routerMetrics = stack.process("router").metricsPort!;
    const before = await metricWithLabels(routerMetrics, "kvtier_router_requests_total", { code: "INVALID_ARGUMENT" });
    expect(await rawCall(client, "/kvtier.v1.KvTierService/Generate", NOT_A_MESSAGE, true)).toBe(status.INVALID_ARGUMENT);
    expect(await rawCall(client, "/kvtier.v1.KvTierService/Tokenize", NOT_A_MESSAGE, false)).toBe(status.INVALID_ARGUMENT);
    const store = kvstoreClient(stack);
    expect(await rawCall(store, "/kvtier.v1.KvStoreService/Lookup", NOT_A_MESSAGE, false)).toBe(status.INVALID_ARGUMENT);
    store.close();
    expect(await metricWithLabels(routerMetrics, "kvtier_router_requests_total", { code: "INVALID_ARGUMENT" })).toBe(before + 1);
  });

  it("a cancel right after sending stops the request everywhere, and is counted once", async () => {
    const { stack, client } = file;
    const routerMetrics = stack.process("router").metricsPort!;
    const decodeMetrics = stack.process("decode-1").metricsPort!;
    const cancelledBefore = await metricWithLabels(routerMetrics, "kvtier_router_requests_total", { code: "CANCELLED" });
    const tokensBefore = await scrape(decodeMetrics, "kvtier_decode_tokens_total");
    const md = new Metadata();
    md.set("authorization", "Bearer key-alpha");
    const ended = await Promise.all(
      Array.from({ length: CANCELLED_REQUESTS }, (_, i) => {
        const call = client.generate(request(`Once upon a time there was a cat number ${i} who liked to`, CANCEL_MAX_TOKENS), md);
        setTimeout(() => call.cancel(), 5);
        return new Promise<number>((resolve) => {
          call.on("data", () => undefined);
          call.on("error", (e: ServiceError) => resolve(e.code));
          call.on("end", () => resolve(status.OK));
        });
      }),
    );
    expect(ended.every((c) => c === status.CANCELLED)).toBe(true);
    await eventually(
      "the router and decode worker hold no request",
      10_000,
      async () =>
        (await scrape(routerMetrics, "kvtier_router_inflight_requests")) === 0 &&
        (await scrape(decodeMetrics, "kvtier_decode_inflight_requests")) === 0,
    );
    expect(await metricWithLabels(routerMetrics, "kvtier_router_requests_total", { code: "CANCELLED" })).toBe(
      cancelledBefore + CANCELLED_REQUESTS,
    );
    // before the fix every one of them decoded all its tokens for nobody
    const decoded = (await scrape(decodeMetrics, "kvtier_decode_tokens_total")) - tokensBefore;
    expect(decoded).toBeLessThan((CANCELLED_REQUESTS * CANCEL_MAX_TOKENS) / 4);
  });
});
