// Typed message protocol between EngineHost (service thread) and the engine worker thread.
import type { MessagePort } from "node:worker_threads";
import type { DecodeRequest, PrefillOptions } from "./engine.js";
import { EngineError, KvImportError, type EngineErrorCode, type KvImportErrorCode } from "./engine-error.js";
import type { SelectionExport, SelectionMeta } from "./engine-selection.js";
import { KvBlockError, type KvBlockErrorCode } from "./kv-block-error.js";
import type { ModelConfig } from "./model-config.js";
import { PolicyError, type PolicyErrorCode } from "./policies/policy-error.js";
import type { QuestPageRef } from "./quest-page-cache.js";
import type { QuestPagesExport, QuestPagesMeta } from "./quest-pages.js";
import type { SelectionSummary } from "./sequence-selection.js";

/** What the worker needs to build its engine (passed as workerData). */
export interface EngineWorkerInit {
  checkpointPath: string;
  blockSize: number;
  capacityBlocks: number;
  prefillChunkTokens?: number;
}

/** How long the engine thread waits for quest pages it asked the host for, in milliseconds. */
export const QUEST_PAGE_FETCH_TIMEOUT_MS = 10_000;

/**
 * The quest page channel (workerData beside EngineWorkerInit): the engine thread posts a fetch on
 * `port`, then sleeps on `signal` (Int32 counter at index 0) until the host has posted the reply
 * and bumped the counter; it reads the reply with receiveMessageOnPort, its event loop being busy.
 */
export interface QuestPageChannel {
  port: MessagePort;
  signal: SharedArrayBuffer;
}

/** Engine thread -> host on the quest page channel. */
export interface QuestPageFetch {
  id: number;
  seqId: string;
  pages: QuestPageRef[];
}

/** Host -> engine thread on the quest page channel: the pages, in order, or why not. */
export type QuestPageReply = { id: number; pages: Uint8Array[] } | { id: number; error: string };

/** Model facts the host knows once the worker has started. */
export interface EngineModelInfo {
  config: ModelConfig;
  modelId: string;
  blockSize: number;
  capacityBlocks: number;
}

/** Every engine method callable across the thread boundary: argument tuple and result. */
export interface EngineCalls {
  openSequence: { args: [seqId: string]; result: void };
  closeSequence: { args: [seqId: string]; result: void };
  setResidualCodec: { args: [seqId: string, codec: string]; result: number };
  length: { args: [seqId: string]; result: number };
  exactTokens: { args: [seqId: string]; result: number };
  freeBlocks: { args: []; result: number };
  reserve: { args: [seqId: string, totalTokens: number]; result: boolean };
  attachCached: { args: [seqId: string, hashes: Uint8Array[]]; result: number };
  prefill: { args: [seqId: string, tokens: number[], opts?: PrefillOptions]; result: Float32Array };
  prefillWithLogits: { args: [seqId: string, tokens: number[], opts?: PrefillOptions]; result: Float32Array[] };
  decodeStep: { args: [batch: DecodeRequest[]]; result: Float32Array[] };
  registerBlocks: { args: [seqId: string, firstBlock: number, hashes: Uint8Array[]]; result: void };
  exportBlocks: {
    args: [seqId: string, firstBlock: number, count: number, codec: string, hashes: Uint8Array[], exactOnly: boolean];
    result: Uint8Array[];
  };
  exportTail: { args: [seqId: string, codec: string, hash: Uint8Array, length: number]; result: Uint8Array | null };
  importBlocks: { args: [seqId: string, blocks: Uint8Array[]]; result: void };
  setSelectionPolicy: { args: [seqId: string, policy: string, promptTokens: number]; result: void };
  compress: { args: [seqId: string]; result: SelectionSummary };
  selectionSummary: { args: [seqId: string]; result: SelectionSummary | null };
  exportSelection: { args: [seqId: string, codec: string, key: Uint8Array]; result: SelectionExport };
  importSelection: { args: [seqId: string, meta: SelectionMeta, codec: string, blocks: Uint8Array[]]; result: SelectionSummary };
  applySelection: { args: [seqId: string, meta: SelectionMeta]; result: SelectionSummary };
  exportQuestPages: { args: [seqId: string, codec: string, key: Uint8Array]; result: QuestPagesExport };
  importQuestPages: { args: [seqId: string, meta: QuestPagesMeta, tail: Uint8Array | null]; result: SelectionSummary };
  questPageStatus: { args: [seqId: string]; result: { fetchedPages: number; broken: string | null } | null };
}

export type EngineMethod = keyof EngineCalls;

/** An error flattened for postMessage; revived on the other side with its class, code and message. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type HostToWorker = { type: "call"; id: number; method: EngineMethod; args: unknown[] };

export type WorkerToHost =
  | { type: "ready"; info: EngineModelInfo }
  | { type: "startup-error"; error: SerializedError }
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; error: SerializedError }
  | { type: "event"; kind: "stored" | "removed"; hashes: Uint8Array[] };

/** Flatten any thrown value. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, stack: err.stack, ...(typeof code === "string" ? { code } : {}) };
  }
  return { name: "Error", message: String(err) };
}

/** Rebuild the named error class (EngineError, KvImportError, KvBlockError, PolicyError) where known. */
export function reviveError(e: SerializedError): Error {
  const cause = e.stack === undefined ? undefined : { workerStack: e.stack };
  let err: Error;
  if (e.name === "EngineError" && e.code !== undefined) err = new EngineError(e.code as EngineErrorCode, e.message, { cause });
  else if (e.name === "KvImportError" && e.code !== undefined) err = new KvImportError(e.code as KvImportErrorCode, e.message, { cause });
  else if (e.name === "KvBlockError" && e.code !== undefined) err = new KvBlockError(e.code as KvBlockErrorCode, e.message, { cause });
  else if (e.name === "PolicyError" && e.code !== undefined) err = new PolicyError(e.code as PolicyErrorCode, e.message, { cause });
  else {
    err = new Error(e.message, { cause });
    err.name = e.name;
    if (e.code !== undefined) Object.assign(err, { code: e.code });
  }
  return err;
}

/** Distinct, transferable ArrayBuffers under a value made of typed arrays and arrays of them. */
export function transferablesOf(value: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && !out.includes(value.buffer)) out.push(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) transferablesOf(item, out);
  }
  return out;
}

/**
 * A copy of `bytes` that owns its whole buffer, or `bytes` itself if it already does. Structured
 * clone copies a view's entire underlying buffer, so a view into a large network frame is compacted.
 */
export function compactBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
