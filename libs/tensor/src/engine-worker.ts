// Worker-thread entry: owns one LlamaEngine and serves EngineHost calls one at a time, in order.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { loadCheckpoint } from "./checkpoint.js";
import { LlamaEngine } from "./engine.js";
import {
  QUEST_PAGE_FETCH_TIMEOUT_MS,
  serializeError,
  transferablesOf,
  type EngineCalls,
  type EngineMethod,
  type EngineWorkerInit,
  type HostToWorker,
  type QuestPageChannel,
  type QuestPageFetch,
  type QuestPageReply,
  type WorkerToHost,
} from "./engine-protocol.js";
import type { QuestPageSource } from "./quest-pages.js";

type Handlers = { [M in EngineMethod]: (...args: EngineCalls[M]["args"]) => EngineCalls[M]["result"] };

function handlersFor(engine: LlamaEngine): Handlers {
  return {
    openSequence: (seqId) => engine.openSequence(seqId),
    closeSequence: (seqId) => engine.closeSequence(seqId),
    setResidualCodec: (seqId, codec) => engine.setResidualCodec(seqId, codec),
    length: (seqId) => engine.length(seqId),
    exactTokens: (seqId) => engine.exactTokens(seqId),
    freeBlocks: () => engine.freeBlocks,
    reserve: (seqId, totalTokens) => engine.reserve(seqId, totalTokens),
    attachCached: (seqId, hashes) => engine.attachCached(seqId, hashes),
    prefill: (seqId, tokens, opts) => engine.prefill(seqId, tokens, opts),
    prefillWithLogits: (seqId, tokens, opts) => engine.prefillWithLogits(seqId, tokens, opts),
    decodeStep: (batch) => engine.decodeStep(batch),
    registerBlocks: (seqId, firstBlock, hashes) => engine.registerBlocks(seqId, firstBlock, hashes),
    exportBlocks: (seqId, firstBlock, count, codec, hashes, exactOnly) =>
      engine.exportBlocks(seqId, firstBlock, count, codec, hashes, exactOnly),
    exportTail: (seqId, codec, hash, length) => engine.exportTail(seqId, codec, hash, length),
    importBlocks: (seqId, blocks) => engine.importBlocks(seqId, blocks),
    setSelectionPolicy: (seqId, policy, promptTokens) => engine.setSelectionPolicy(seqId, policy, promptTokens),
    compress: (seqId) => engine.compress(seqId),
    selectionSummary: (seqId) => engine.selectionSummary(seqId),
    exportSelection: (seqId, codec, key) => engine.exportSelection(seqId, codec, key),
    importSelection: (seqId, meta, codec, blocks) => engine.importSelection(seqId, meta, codec, blocks),
    applySelection: (seqId, meta) => engine.applySelection(seqId, meta),
    exportQuestPages: (seqId, codec, key) => engine.exportQuestPages(seqId, codec, key),
    importQuestPages: (seqId, meta, tail) => engine.importQuestPages(seqId, meta, tail),
    questPageStatus: (seqId) => engine.questPageStatus(seqId),
  };
}

/**
 * Quest pages are asked for in the middle of a layer's attention, which is synchronous: this
 * thread posts the request and blocks on Atomics.wait until the host has fetched the pages from
 * the store and posted them (option (a); a two-pass step would redo the forward per miss, and a
 * prefetch from the previous step's queries still needs this path for exactness). The wait
 * happens only for pages not yet in the sequence's page cache, at most once per layer and step.
 */
function questPageSource(channel: QuestPageChannel): QuestPageSource {
  const signal = new Int32Array(channel.signal);
  let nextId = 1;
  return (seqId, pages) => {
    const id = nextId++;
    channel.port.postMessage({ id, seqId, pages } satisfies QuestPageFetch);
    const deadline = Date.now() + QUEST_PAGE_FETCH_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(signal, 0);
      const got = receiveMessageOnPort(channel.port);
      if (got !== undefined) {
        const reply = got.message as QuestPageReply;
        if (reply.id !== id) continue; // a late reply to a fetch that timed out
        return "error" in reply ? { error: reply.error } : { pages: reply.pages };
      }
      const left = deadline - Date.now();
      if (left <= 0) return { error: `no quest pages from the host within ${QUEST_PAGE_FETCH_TIMEOUT_MS} ms` };
      Atomics.wait(signal, 0, seen, left);
    }
  };
}

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error("engine-worker must run in a worker thread");
  const post = (msg: WorkerToHost, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  const init = workerData as EngineWorkerInit & { questPages?: QuestPageChannel };
  let engine: LlamaEngine;
  try {
    const model = loadCheckpoint(init.checkpointPath);
    engine = new LlamaEngine(model, {
      blockSize: init.blockSize,
      capacityBlocks: init.capacityBlocks,
      prefillChunkTokens: init.prefillChunkTokens,
    });
  } catch (err) {
    post({ type: "startup-error", error: serializeError(err) });
    return;
  }
  if (init.questPages) engine.setQuestPageSource(questPageSource(init.questPages));
  // Hashes are small and still referenced by the pool: cloned, never transferred.
  engine.onStored((hashes) => post({ type: "event", kind: "stored", hashes }));
  engine.onRemoved((hashes) => post({ type: "event", kind: "removed", hashes }));
  const handlers = handlersFor(engine);
  port.on("message", (msg: HostToWorker) => {
    try {
      if (!Object.hasOwn(handlers, msg.method)) throw new Error(`unknown engine method ${String(msg.method)}`);
      const fn = handlers[msg.method] as (...args: unknown[]) => unknown;
      const value = fn(...msg.args);
      // Results (logits, encoded blocks) are fresh arrays owned by nobody else: transfer them.
      post({ type: "result", id: msg.id, value }, transferablesOf(value));
    } catch (err) {
      post({ type: "error", id: msg.id, error: serializeError(err) });
    }
  });
  const { config, modelId } = engine.model;
  post({ type: "ready", info: { config, modelId, blockSize: init.blockSize, capacityBlocks: init.capacityBlocks } });
}

main();
