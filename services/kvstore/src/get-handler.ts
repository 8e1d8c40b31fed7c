// gRPC Get (server-streaming): for each block of the leading run, a GetHeader then chunks of at
// most MAX_CHUNK_BYTES, honouring the stream's backpressure and stopping when the client leaves.
import type { handleServerStreamingCall, ServerWritableStream } from "@grpc/grpc-js";
import { MAX_CHUNK_BYTES } from "@kvtier/kv-transport";
import { KvtierError } from "@kvtier/platform";
import type { GetRequest, GetResponse } from "@kvtier/proto";
import { statusOf } from "./grpc-status.js";
import type { ServiceDeps } from "./service-deps.js";
import { parseBlockKeys, parseLease } from "./wire-requests.js";
import { tierToWire } from "./wire-tier.js";

type GetCall = ServerWritableStream<GetRequest, GetResponse>;

/** The Get handler over `deps`. */
export function getHandler(deps: ServiceDeps): handleServerStreamingCall<GetRequest, GetResponse> {
  return (call) => {
    serveRun(deps, call).catch((err: unknown) => {
      if (!(err instanceof KvtierError)) deps.log?.error("get failed", { err: String(err) });
      if (!call.cancelled) call.emit("error", statusOf(err));
    });
  };
}

async function serveRun(deps: ServiceDeps, call: GetCall): Promise<void> {
  const keys = parseBlockKeys(call.request.blockHashes, call.request.codec);
  const lease = parseLease(call.request.leaseId, call.request.leaseTtlMs);
  const run = await deps.store.getRun(keys, { lease });
  for (const block of run) {
    const header: GetResponse = {
      part: { $case: "header", value: { blockHash: block.key.hash, totalBytes: block.bytes.length, tier: tierToWire(block.tier) } },
    };
    if (!(await send(call, header))) return;
    for (let at = 0; at < block.bytes.length; at += MAX_CHUNK_BYTES) {
      if (!(await send(call, { part: { $case: "chunk", value: block.bytes.subarray(at, at + MAX_CHUNK_BYTES) } }))) return;
    }
    deps.metrics?.read(block.tier, "grpc", block.bytes.length);
  }
  call.end();
}

/** Write one message, waiting for drain when the stream is full; false once the client is gone. */
function send(call: GetCall, msg: GetResponse): Promise<boolean> {
  if (call.cancelled || call.destroyed) return Promise.resolve(false);
  if (call.write(msg)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      call.off("drain", onDrain);
      call.off("cancelled", onGone);
      call.off("close", onGone);
      call.off("error", onGone);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onGone = (): void => done(false);
    call.once("drain", onDrain);
    call.once("cancelled", onGone);
    call.once("close", onGone);
    call.once("error", onGone);
  });
}
