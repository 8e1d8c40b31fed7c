// The attack a reliability probe ran, against a real stack: read the cached blocks' hashes from the
// router's /debug/index, fetch each block from the kvstore, negate K and V (checksums
// recomputed), delete and re-put it, so the same prompt returns another text. Every step must be
// refused to anyone without the deployment's service credential (a client API key included), on
// the kvstore's gRPC port, its fast port, the decode worker's port and the debug page; with the
// credential the same steps do change the stored blocks (so the refusals are what stop it).
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { FrameKind, encodeAttach, encodeGetRun, decodeError } from "@kvtier/kv-transport";
import { GRPC_OPTIONS, KvStoreClient, SERVICE_TOKEN_HEADER, ServiceToken, type KvtierError } from "@kvtier/platform";
import { DecodeWorkerServiceClient, KvStoreServiceClient, PutHeader } from "@kvtier/proto";
import { decodeKvBlock, encodeKvBlock } from "@kvtier/tensor";
import { describe, expect, it } from "vitest";
import { generate, request } from "./client.js";
import { routerIndex } from "./index-probe.js";
import { RawFrameClient } from "../../services/kvstore/test/data-plane-support.js";
import { kvstoreFastPort, stackForFile } from "./stack.js";

const PROMPT =
  "Once upon a time, there was a little girl named Lily. She liked to play outside with her friends. One day they went to the park";

const file = stackForFile({ prefillWorkers: 1, decodeWorkers: 1 });

/** The status a unary call ends with. */
function unaryCode(call: (cb: (err: ServiceError | null) => void) => void): Promise<number> {
  return new Promise((resolve) => call((err) => resolve(err ? err.code : status.OK)));
}

/** The host-tier block hashes the router lists for the kvstore, read with `credential`. */
async function listedHashes(metricsPort: number, credential: string): Promise<Uint8Array[]> {
  const idx = await routerIndex(metricsPort, credential, "kvstore-1");
  return (idx.held ?? []).filter((e) => e.tier === "host" && e.codec === "fp32").map((e) => Uint8Array.from(Buffer.from(e.hashHex, "hex")));
}

/** Negate every K and V value, keeping the block valid (its checksum recomputed). */
function negated(block: Uint8Array): Uint8Array {
  const { header, k, v } = decodeKvBlock(block);
  return encodeKvBlock(
    header,
    k.map((x) => -x),
    v.map((x) => -x),
  );
}

describe("internal endpoints serve only the deployment's services", () => {
  it("refuses every step of the block-poisoning attack without the service credential", async () => {
    const { stack, client } = file;
    const token = new ServiceToken(stack.serviceToken);
    const before = await generate(client, request(PROMPT, 24), "key-alpha");
    const routerMetrics = stack.process("router").metricsPort!;

    // 1. the debug page: nothing without the credential, nothing for an API key
    const outsiderHeaders: Record<string, string>[] = [{}, { [SERVICE_TOKEN_HEADER]: "key-alpha" }, { authorization: "Bearer key-alpha" }];
    for (const headers of outsiderHeaders) {
      const res = await fetch(`http://127.0.0.1:${routerMetrics}/debug/index?location=kvstore-1`, { headers });
      expect(res.status).toBe(401);
    }
    // the workers' metrics ports have no debug page at all
    expect((await fetch(`http://127.0.0.1:${stack.process("decode-1").metricsPort}/debug/index`)).status).toBe(404);
    const hashes = await listedHashes(routerMetrics, stack.serviceToken); // what an insider could read
    expect(hashes.length).toBeGreaterThan(0);

    // 2. the kvstore's gRPC port: no call without the credential, and an API key is not one
    for (const interceptors of [[], [new ServiceToken("key-alpha".padEnd(32, "x")).interceptor()]]) {
      const outsider = new KvStoreServiceClient(stack.kvstoreEndpoint, credentials.createInsecure(), { ...GRPC_OPTIONS, interceptors });
      const get = outsider.get({ blockHashes: hashes, codec: "fp32", leaseId: "", leaseTtlMs: 0 });
      const getCode = await new Promise<number>((resolve) => {
        get.on("data", () => undefined);
        get.on("error", (e: ServiceError) => resolve(e.code));
        get.on("end", () => resolve(status.OK));
      });
      expect(getCode).toBe(status.UNAUTHENTICATED);
      expect(await unaryCode((cb) => outsider.delete({ blockHashes: hashes, codec: "fp32" }, cb))).toBe(status.UNAUTHENTICATED);
      expect(await unaryCode((cb) => outsider.lookup({ blockHashes: hashes, codec: "fp32" }, cb))).toBe(status.UNAUTHENTICATED);
      expect(await unaryCode((cb) => outsider.info({}, cb))).toBe(status.UNAUTHENTICATED);
      const put = await new Promise<number>((resolve) => {
        const call = outsider.put((err) => resolve(err ? err.code : status.OK));
        call.write({ part: { $case: "header", value: PutHeader.fromPartial({ blockHash: hashes[0], codec: "fp32", totalBytes: 200 }) } });
        call.end();
      });
      expect(put).toBe(status.UNAUTHENTICATED);
      outsider.close();
    }
    // a KvStoreClient with a wrong credential gets neither path
    const wrong = new KvStoreClient(stack.kvstoreEndpoint, { serviceToken: ServiceToken.generate(), dataPaths: ["tcp", "grpc"] });
    await expect(wrong.getRun(hashes, "fp32")).rejects.toMatchObject({ code: "UNAUTHENTICATED" } satisfies Partial<KvtierError>);
    await wrong.close();

    // 3. the fast port: a request before AUTH, or AUTH with a wrong credential, ends the connection
    const port = await kvstoreFastPort(stack);
    for (const first of [
      { kind: FrameKind.GET_RUN, meta: encodeGetRun({ codec: "fp32", hashes, maxBytes: 0 }) },
      { kind: FrameKind.SHM_ATTACH, meta: encodeAttach({ name: "kvtier-x-1-abc", arenaBytes: 4096 }) },
      { kind: FrameKind.AUTH, meta: ServiceToken.generate().bytes() },
      { kind: FrameKind.AUTH, meta: Buffer.from("key-alpha") },
    ]) {
      const raw = await RawFrameClient.connect(port);
      raw.sendFrame(
        { kind: first.kind, flags: 0, requestId: 7, count: first.kind === FrameKind.GET_RUN ? hashes.length : 0, payloadBytes: 0 },
        first.meta,
      );
      const f = await raw.frame(0);
      expect([f.header.kind, f.header.requestId, decodeError(f.meta).code]).toEqual([FrameKind.ERROR, 0, "UNAUTHENTICATED"]);
      await raw.closed;
    }

    // 4. the decode worker: no Decode without the credential
    const decodeEndpoint = `127.0.0.1:${stack.process("decode-1").port}`;
    const decodeOutsider = new DecodeWorkerServiceClient(decodeEndpoint, credentials.createInsecure(), GRPC_OPTIONS);
    const decodeCode = await new Promise<number>((resolve) => {
      const call = decodeOutsider.decode({ plan: undefined });
      call.on("data", () => undefined);
      call.on("error", (e: ServiceError) => resolve(e.code));
      call.on("end", () => resolve(status.OK));
    });
    expect(decodeCode).toBe(status.UNAUTHENTICATED);
    decodeOutsider.close();

    // nothing changed: the same prompt gives the same text
    const after = await generate(client, request(PROMPT, 24), "key-alpha");
    expect(after.text).toBe(before.text);

    // 5. the control: with the credential, the attack's steps go through and the store serves
    //    the negated blocks (so it is the credential check that stopped them above)
    const insider = new KvStoreClient(stack.kvstoreEndpoint, { serviceToken: token, dataPaths: ["tcp", "grpc"] });
    const run = await insider.getRun(hashes.slice(0, 1), "fp32");
    expect(run.blocks).toHaveLength(1);
    expect(await insider.delete(hashes.slice(0, 1), "fp32")).toBe(1);
    expect((await insider.put(negated(run.blocks[0]))).created).toBe(true);
    const poisoned = await insider.getRun(hashes.slice(0, 1), "fp32");
    expect(Buffer.from(poisoned.blocks[0]).equals(Buffer.from(negated(run.blocks[0])))).toBe(true);
    await insider.close();
  });
});
