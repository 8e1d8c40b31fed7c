// EngineHost: runs a LlamaEngine in a worker thread so the service's event loop never waits on a forward pass.
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type { DecodeRequest, PrefillOptions } from "./engine.js";
import { EngineError } from "./engine-error.js";
import {
  compactBytes,
  reviveError,
  transferablesOf,
  type EngineCalls,
  type EngineMethod,
  type EngineModelInfo,
  type EngineWorkerInit,
  type QuestPageChannel,
  type QuestPageFetch,
  type QuestPageReply,
  type WorkerToHost,
} from "./engine-protocol.js";
import type { QuestPageRef } from "./quest-page-cache.js";
import type { QuestPagesExport, QuestPagesMeta } from "./quest-pages.js";
import type { SelectionExport, SelectionMeta } from "./engine-selection.js";
import type { KvCacheListener } from "./kv-pool.js";
import type { SelectionSummary } from "./sequence-selection.js";

/** How to start the worker's engine. */
export type EngineHostOptions = EngineWorkerInit;

/** Fetches quest pages for a sequence (from the store): the encoded pages in the order asked; rejects when any cannot be had. */
export type QuestPageFetcher = (seqId: string, pages: QuestPageRef[]) => Promise<Uint8Array[]>;

// From compiled code the worker sits next to this file in dist/. When this module is imported from
// source (vitest runs src/*.ts), a worker thread cannot load TypeScript, so it runs the compiled
// dist/engine-worker.js: build first (`pnpm exec tsc -b libs/tensor`).
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "../dist/engine-worker.js" : "./engine-worker.js", import.meta.url);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** Async mirror of LlamaEngine; calls run in order in the worker thread. */
export class EngineHost {
  /** Config and model id of the loaded checkpoint. */
  readonly modelInfo: EngineModelInfo;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly storedListeners = new Set<KvCacheListener>();
  private readonly removedListeners = new Set<KvCacheListener>();
  private nextId = 1;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private readonly pagePort: MessagePort;
  private readonly pageSignal: Int32Array;
  private pageFetcher: QuestPageFetcher | null = null;

  private constructor(worker: Worker, info: EngineModelInfo, pages: { port: MessagePort; signal: SharedArrayBuffer }) {
    this.worker = worker;
    this.modelInfo = info;
    this.pagePort = pages.port;
    this.pageSignal = new Int32Array(pages.signal);
    this.pagePort.on("message", (msg: QuestPageFetch) => void this.onPageFetch(msg));
    this.pagePort.unref();
    worker.on("message", (msg: WorkerToHost) => this.onMessage(msg));
    worker.on("error", (err) => this.fail(new EngineError("WORKER_FAILED", `engine worker crashed: ${err.message}`, { cause: err })));
    worker.on("exit", (code) =>
      this.fail(new EngineError(this.closing ? "ENGINE_CLOSED" : "WORKER_FAILED", `engine worker exited (${code})`)),
    );
  }

  /** Start a worker, load the checkpoint there, and resolve once the engine is ready. */
  static async start(opts: EngineHostOptions): Promise<EngineHost> {
    const channel = new MessageChannel();
    const questPages: QuestPageChannel = { port: channel.port2, signal: new SharedArrayBuffer(4) };
    const worker = new Worker(WORKER_URL, { workerData: { ...opts, questPages }, transferList: [channel.port2] });
    const info = await new Promise<EngineModelInfo>((resolve, reject) => {
      const onMessage = (msg: WorkerToHost): void => {
        if (msg.type === "ready") done(() => resolve(msg.info));
        else if (msg.type === "startup-error") done(() => reject(reviveError(msg.error)));
      };
      const onError = (err: Error): void =>
        done(() => reject(new EngineError("WORKER_FAILED", `engine worker failed to start: ${err.message}`, { cause: err })));
      const onExit = (code: number): void =>
        done(() => reject(new EngineError("WORKER_FAILED", `engine worker exited during start (${code})`)));
      const done = (settle: () => void): void => {
        worker.off("message", onMessage).off("error", onError).off("exit", onExit);
        settle();
      };
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
    }).catch(async (err: unknown) => {
      channel.port1.close();
      await worker.terminate();
      throw err;
    });
    return new EngineHost(worker, info, { port: channel.port1, signal: questPages.signal });
  }

  /** Subscribe to device-tier cache insertions (forwarded from the worker). Returns an unsubscribe function. */
  onStored(listener: KvCacheListener): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  /** Subscribe to device-tier evictions (forwarded from the worker). Returns an unsubscribe function. */
  onRemoved(listener: KvCacheListener): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  /** Start an empty sequence in the worker's engine. */
  openSequence(seqId: string): Promise<void> {
    return this.call("openSequence", [seqId]);
  }

  /** Give an empty sequence the residual window of `codec` (KIVI); resolves to the window in tokens (0: none). */
  setResidualCodec(seqId: string, codec: string): Promise<number> {
    return this.call("setResidualCodec", [seqId, codec]);
  }

  /** Release the sequence's pages (cached full pages stay cached). */
  closeSequence(seqId: string): Promise<void> {
    return this.call("closeSequence", [seqId]);
  }

  /** Tokens whose KV the sequence holds. */
  length(seqId: string): Promise<number> {
    return this.call("length", [seqId]);
  }

  /** Leading tokens whose KV is exact (LlamaEngine.exactTokens). */
  exactTokens(seqId: string): Promise<number> {
    return this.call("exactTokens", [seqId]);
  }

  /** Pages that can still be reserved (free plus evictable cached). */
  freeBlocks(): Promise<number> {
    return this.call("freeBlocks", []);
  }

  /** Hold pages to reach totalTokens; false (nothing held) if the pool cannot. */
  reserve(seqId: string, totalTokens: number): Promise<boolean> {
    return this.call("reserve", [seqId, totalTokens]);
  }

  /** Share the longest leading run of cached blocks into an empty sequence. */
  attachCached(seqId: string, hashes: Uint8Array[]): Promise<number> {
    return this.call("attachCached", [seqId, hashes.map(compactBytes)]);
  }

  /** Append tokens; resolves to the last token's logits. */
  prefill(seqId: string, tokens: number[], opts?: PrefillOptions): Promise<Float32Array> {
    return this.call("prefill", opts === undefined ? [seqId, tokens] : [seqId, tokens, opts]);
  }

  /** Append tokens; resolves to every token's logits. */
  prefillWithLogits(seqId: string, tokens: number[], opts?: PrefillOptions): Promise<Float32Array[]> {
    return this.call("prefillWithLogits", opts === undefined ? [seqId, tokens] : [seqId, tokens, opts]);
  }

  /** One batched forward, one token per sequence. */
  decodeStep(batch: DecodeRequest[]): Promise<Float32Array[]> {
    return this.call("decodeStep", [batch]);
  }

  /** Enter full blocks into the device-tier prefix cache. */
  registerBlocks(seqId: string, firstBlock: number, hashes: Uint8Array[]): Promise<void> {
    return this.call("registerBlocks", [seqId, firstBlock, hashes.map(compactBytes)]);
  }

  /** Encoded full blocks (keys pre-RoPE); with `exactOnly`, only the leading exact ones (LlamaEngine.exportBlocks). */
  exportBlocks(
    seqId: string,
    firstBlock: number,
    count: number,
    codec: string,
    hashes: Uint8Array[],
    exactOnly = false,
  ): Promise<Uint8Array[]> {
    return this.call("exportBlocks", [seqId, firstBlock, count, codec, hashes.map(compactBytes), exactOnly]);
  }

  /** The encoded partial block ending the sequence's first `length` tokens, or null when `length` is block-aligned. */
  exportTail(seqId: string, codec: string, hash: Uint8Array, length: number): Promise<Uint8Array | null> {
    return this.call("exportTail", [seqId, codec, compactBytes(hash), length]);
  }

  /** The caller's arrays stay usable: each block is copied once and the copy is transferred. */
  importBlocks(seqId: string, blocks: Uint8Array[]): Promise<void> {
    const owned = blocks.map((b) => b.slice());
    return this.call("importBlocks", [seqId, owned], transferablesOf(owned));
  }

  /** Give an empty sequence a selection policy ("snapkv@25"; "" / "none" clears) for a prompt of `promptTokens`. */
  setSelectionPolicy(seqId: string, policy: string, promptTokens: number): Promise<void> {
    return this.call("setSelectionPolicy", [seqId, policy, promptTokens]);
  }

  /** Apply the sequence's policy to its prefilled prompt; resolves to what was kept. */
  compress(seqId: string): Promise<SelectionSummary> {
    return this.call("compress", [seqId]);
  }

  /** What the sequence's compression kept, or null. */
  selectionSummary(seqId: string): Promise<SelectionSummary | null> {
    return this.call("selectionSummary", [seqId]);
  }

  /** The sparse hand-off (meta and blocks in `codec`, hashed from the 16-byte `key`) of a sequence compressed just now. */
  exportSelection(seqId: string, codec: string, key: Uint8Array): Promise<SelectionExport> {
    return this.call("exportSelection", [seqId, codec, compactBytes(key)]);
  }

  /** Import a sparse hand-off into an empty reserved sequence; the caller's arrays stay usable. */
  importSelection(seqId: string, meta: SelectionMeta, codec: string, blocks: Uint8Array[]): Promise<SelectionSummary> {
    const owned = blocks.map((b) => b.slice());
    return this.call("importSelection", [seqId, meta, codec, owned], transferablesOf(owned));
  }

  /** Apply a compression computed elsewhere to a sequence holding its prompt densely. */
  applySelection(seqId: string, meta: SelectionMeta): Promise<SelectionSummary> {
    return this.call("applySelection", [seqId, meta]);
  }

  /**
   * Where the engine thread's quest sequences get their pages: called (on this thread) when
   * attention selects pages not yet fetched, while the engine thread waits for the answer.
   */
  setQuestPageFetcher(fetcher: QuestPageFetcher | null): void {
    this.pageFetcher = fetcher;
  }

  /** Quest's page metadata and page objects of a quest sequence holding its uncompressed prompt (prefill side). */
  exportQuestPages(seqId: string, codec: string, key: Uint8Array): Promise<QuestPagesExport> {
    return this.call("exportQuestPages", [seqId, codec, compactBytes(key)]);
  }

  /** Bring a sequence (empty or holding attached cached blocks) to a quest prompt whose pages are fetched on demand through the fetcher. */
  importQuestPages(seqId: string, meta: QuestPagesMeta, tail: Uint8Array | null): Promise<SelectionSummary> {
    return this.call("importQuestPages", [seqId, { ...meta, bounds: meta.bounds.slice() }, tail === null ? null : tail.slice()]);
  }

  /** Pages the quest sequence fetched so far and its fetch failure, or null if it fetches none. */
  questPageStatus(seqId: string): Promise<{ fetchedPages: number; broken: string | null } | null> {
    return this.call("questPageStatus", [seqId]);
  }

  /** Refuse new calls, wait for in-flight ones to settle, then stop the worker. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.allSettled(this.inflight).then(async () => {
      this.pagePort.close();
      await this.worker.terminate();
    });
    return this.closing;
  }

  private call<M extends EngineMethod>(
    method: M,
    args: EngineCalls[M]["args"],
    transfer: ArrayBuffer[] = [],
  ): Promise<EngineCalls[M]["result"]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing !== null) return Promise.reject(new EngineError("ENGINE_CLOSED", `EngineHost is closed (${method})`));
    const id = this.nextId++;
    const result = new Promise<EngineCalls[M]["result"]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ type: "call", id, method, args }, transfer);
    });
    this.inflight.add(result);
    const forget = (): void => void this.inflight.delete(result);
    result.then(forget, forget);
    return result;
  }

  private onMessage(msg: WorkerToHost): void {
    if (msg.type === "event") {
      const listeners = msg.kind === "stored" ? this.storedListeners : this.removedListeners;
      for (const l of listeners) l(msg.hashes);
      return;
    }
    if (msg.type !== "result" && msg.type !== "error") return;
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    if (msg.type === "result") p.resolve(msg.value);
    else p.reject(reviveError(msg.error));
  }

  private async onPageFetch(msg: QuestPageFetch): Promise<void> {
    let reply: QuestPageReply;
    let transfer: ArrayBuffer[] = [];
    try {
      if (this.pageFetcher === null) throw new Error("no quest page fetcher is set");
      const pages = (await this.pageFetcher(msg.seqId, msg.pages)).map((p) => p.slice());
      reply = { id: msg.id, pages };
      transfer = transferablesOf(pages);
    } catch (err) {
      reply = { id: msg.id, error: err instanceof Error ? err.message : String(err) };
    }
    this.pagePort.postMessage(reply, transfer);
    Atomics.add(this.pageSignal, 0, 1);
    Atomics.notify(this.pageSignal, 0);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
