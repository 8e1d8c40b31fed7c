// What each fast-path request does once its frame has arrived: decode (in the connection's
// payload sink, so a bad request is refused before its payload is read), then run against the
// store and answer. Every handler resolves to the response frame; errors become ERROR frames in
// fast-connection.ts.
import {
  FrameFlag,
  FrameKind,
  MAX_FRAME_PAYLOAD_BYTES,
  decodeAttach,
  decodeGetRun,
  decodePutRun,
  encodeGetResult,
  encodePutResult,
  frameError,
  type FrameHeader,
  type GetRunMeta,
  type PutRunMeta,
} from "@kvtier/kv-transport";
import type { BlockKey } from "@kvtier/kv-tiers";
import type { DataOp, DataPath } from "../kvstore-metrics.js";
import { countRead, getRun, putRun, reservePut, runKeys, type DataPlaneDeps } from "./run-service.js";
import type { ShmAnnouncement } from "./shm-announcement.js";
import { ShmAttachment } from "./shm-attachment.js";

/** A response to send: kind, flags, count, metadata, payload buffers (by reference). */
export interface Reply {
  kind: FrameKind;
  flags: number;
  count: number;
  meta: Uint8Array;
  payload: Uint8Array[];
}

/** A decoded request, ready to run once its payload (if any) has arrived. */
export interface PreparedRequest {
  path: DataPath;
  op: DataOp;
  /** Buffers for the payload ([] when none). */
  targets: Uint8Array[];
  /** Bytes of the put budget held until the request ends. */
  reservedBytes: number;
  run(payload: Uint8Array[]): Promise<Reply>;
}

/** A connection's state the handlers need. */
export interface ConnectionState {
  deps: DataPlaneDeps;
  shm: ShmAnnouncement | undefined;
  attachment: ShmAttachment | undefined;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

function putReply(deps: DataPlaneDeps, path: DataPath, req: PutRunMeta, keys: BlockKey[], blocks: Uint8Array[]): Promise<Reply> {
  return putRun(deps, path, req, keys, blocks).then((outcomes) => ({
    kind: FrameKind.PUT_RESULT,
    flags: 0,
    count: outcomes.length,
    meta: encodePutResult(outcomes),
    payload: [],
  }));
}

function getTcp(state: ConnectionState, req: GetRunMeta, keys: BlockKey[]): Promise<Reply> {
  return getRun(state.deps, keys, req.maxBytes || MAX_FRAME_PAYLOAD_BYTES).then(({ blocks, limited }) => {
    countRead(state.deps, "tcp", blocks);
    const meta = encodeGetResult({ tiers: blocks.map((b) => b.tier), sizes: blocks.map((b) => b.bytes.length), limited });
    return {
      kind: FrameKind.GET_RESULT,
      flags: limited ? FrameFlag.LIMITED : 0,
      count: blocks.length,
      meta,
      payload: blocks.map((b) => b.bytes),
    };
  });
}

async function getShm(state: ConnectionState, att: ShmAttachment, req: GetRunMeta, keys: BlockKey[]): Promise<Reply> {
  const window = req.window!;
  const { blocks, limited } = await getRun(state.deps, keys, Math.min(window.bytes, req.maxBytes || Number.MAX_SAFE_INTEGER));
  await att.writeBlocks(
    window.offset,
    blocks.map((b) => b.bytes),
  );
  countRead(state.deps, "shm", blocks);
  const meta = encodeGetResult({ tiers: blocks.map((b) => b.tier), sizes: blocks.map((b) => b.bytes.length), limited });
  return { kind: FrameKind.GET_RESULT, flags: limited ? FrameFlag.LIMITED : 0, count: blocks.length, meta, payload: [] };
}

function attachedArena(state: ConnectionState): ShmAttachment {
  if (!state.attachment) throw frameError("protocol", "frame.kind", "attach an arena (SHM_ATTACH) before shared-memory requests");
  return state.attachment;
}

/**
 * Decode a request frame and check everything that does not need the store; throws
 * TransportError / KvtierError for a request to refuse (its payload is then skipped).
 */
export function prepareRequest(state: ConnectionState, h: FrameHeader, meta: Uint8Array): PreparedRequest {
  const { deps } = state;
  switch (h.kind) {
    case FrameKind.PUT_RUN: {
      const req = decodePutRun(h, meta, false);
      const keys = runKeys(req.codec, req.hashes);
      reservePut(deps, h.payloadBytes);
      const targets = req.sizes.map((s) => Buffer.allocUnsafeSlow(s));
      return { path: "tcp", op: "put", targets, reservedBytes: h.payloadBytes, run: (blocks) => putReply(deps, "tcp", req, keys, blocks) };
    }
    case FrameKind.GET_RUN: {
      const req = decodeGetRun(h, meta, false);
      const keys = runKeys(req.codec, req.hashes);
      return { path: "tcp", op: "get", targets: [], reservedBytes: 0, run: () => getTcp(state, req, keys) };
    }
    case FrameKind.PUT_RUN_SHM: {
      const req = decodePutRun(h, meta, true);
      const att = attachedArena(state);
      const total = sum(req.sizes);
      att.checkWindow(req.windowOffset!, total, "window.offset");
      const keys = runKeys(req.codec, req.hashes);
      reservePut(deps, total);
      const run = async (): Promise<Reply> => putReply(deps, "shm", req, keys, await att.readBlocks(req.windowOffset!, req.sizes));
      return { path: "shm", op: "put", targets: [], reservedBytes: total, run };
    }
    case FrameKind.GET_RUN_SHM: {
      const req = decodeGetRun(h, meta, true);
      const att = attachedArena(state);
      att.checkWindow(req.window!.offset, req.window!.bytes, "window");
      const keys = runKeys(req.codec, req.hashes);
      return { path: "shm", op: "get", targets: [], reservedBytes: 0, run: () => getShm(state, att, req, keys) };
    }
    case FrameKind.SHM_ATTACH: {
      const arena = decodeAttach(meta);
      if (h.payloadBytes !== 0) throw frameError("mismatch", "frame.payload_bytes", "an attach carries no payload");
      const shm = state.shm;
      if (!shm) throw frameError("shm_unavailable", "frame.kind", "this store offers no shared-memory path");
      if (state.attachment) throw frameError("protocol", "frame.kind", "an arena is already attached to this connection");
      const run = async (): Promise<Reply> => {
        if (state.attachment) throw frameError("protocol", "frame.kind", "an arena is already attached to this connection");
        state.attachment = await ShmAttachment.open(shm.dir, shm.prefix, arena);
        return { kind: FrameKind.SHM_ATTACHED, flags: 0, count: 0, meta: new Uint8Array(0), payload: [] };
      };
      return { path: "shm", op: "attach", targets: [], reservedBytes: 0, run };
    }
    default:
      throw frameError("unknown_kind", "frame.kind", `frame kind ${h.kind} is not a request`);
  }
}

/** Whether a frame kind is served over shared memory (for the `path` label of refusals). */
export const pathOfKind = (kind: number): DataPath =>
  kind === FrameKind.PUT_RUN_SHM || kind === FrameKind.GET_RUN_SHM || kind === FrameKind.SHM_ATTACH ? "shm" : "tcp";
