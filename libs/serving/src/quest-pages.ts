// Quest across the hand-off with pages fetched on demand (DESIGN.md section 5). The prefill worker
// has the prompt's keys, so it computes the page metadata (per block, layer and KV head the
// channel min/max of the rotated keys, from the pages as the decode side will decode them) and
// writes every page as a request-scoped one-head KV block under request-derived hashes (never a
// prefix chain's, never matched by the prefix index); the metadata travels in the KvReady. The
// decode worker imports the metadata and the partial tail block only, and its engine asks for the
// pages Quest selects while it decodes: QuestPageFetcher gets them from the kvstore on the service
// thread. All pages are deleted from the store when the request ends. Codecs whose groups span
// KV heads (int4, KIVI values) cannot cut exact pages: those requests take the dense hand-off.
import { createHash } from "node:crypto";
import type { QuestPagesHandoff as QuestPages } from "./handoff-wire.js";
import { BLOCK_HASH_BYTES, KvtierError, messageOf, sequenceId, type Logger, type PlannedRequest } from "@kvtier/core";
import type { BlockStore } from "./block-store.js";
import {
  QUEST_PAGE_FETCH_TIMEOUT_MS,
  codecSeparatesHeads,
  parsePolicySpec,
  questPageHash,
  questPageIndex,
  type EngineHost,
  type QuestPageRef,
  type QuestPagesMeta,
  type SelectionSummary,
} from "@kvtier/tensor";
import { putBlocks, type HandoffBlocks, type HandoffLoad } from "./kv-handoff.js";
import { MAX_SELECTION_META_BYTES } from "./selection-handoff.js";

/** Bytes per bound on the wire (float32 LE). */
const BOUND_BYTES = 4;
/** Deadline of one page fetch, in milliseconds: inside the engine thread's wait, so a slow store is reported as such here. */
const PAGE_FETCH_DEADLINE_MS = QUEST_PAGE_FETCH_TIMEOUT_MS - 1_000;

/** codecSeparatesHeads answers by codec and shape (it encodes a probe block: asked once, not per request). */
const separatesHeads = new Map<string, boolean>();

/** Whether the plan's request fetches Quest pages on demand (a quest policy in a codec that cuts exact pages). */
export function fetchesQuestPages(
  plan: Pick<PlannedRequest, "policy" | "codec">,
  model: { nKvHeads: number; headDim: number },
  blockSize: number,
): boolean {
  if (parsePolicySpec(plan.policy)?.method !== "quest") return false;
  const key = `${plan.codec}/${model.nKvHeads}/${model.headDim}/${blockSize}`;
  let ok = separatesHeads.get(key);
  if (ok === undefined) {
    ok = codecSeparatesHeads(plan.codec, model.nKvHeads, model.headDim, blockSize);
    separatesHeads.set(key, ok);
  }
  return ok;
}

/** The request-derived key (BLOCK_HASH_BYTES long) of one attempt's quest pages. */
export function questPagesKey(plan: Pick<PlannedRequest, "namespaceHash" | "requestId" | "attempt">): Uint8Array {
  const h = createHash("sha256").update("kvtier-quest-pages-key-v1").update(plan.namespaceHash).update(`${plan.requestId}@${plan.attempt}`);
  return new Uint8Array(h.digest().subarray(0, BLOCK_HASH_BYTES));
}

/** Wire -> domain metadata; INVALID_ARGUMENT naming the field when malformed (the engine checks it against the model). */
export function questPagesFromWire(w: QuestPages): QuestPagesMeta {
  if (w.key.length !== BLOCK_HASH_BYTES)
    throw new KvtierError("INVALID_ARGUMENT", `quest_pages.key: must be ${BLOCK_HASH_BYTES} bytes`, { field: "quest_pages.key" });
  if (w.bounds.length % BOUND_BYTES !== 0)
    throw new KvtierError("INVALID_ARGUMENT", `quest_pages.bounds: ${w.bounds.length} bytes is not whole float32s`, {
      field: "quest_pages.bounds",
    });
  const b = Buffer.from(w.bounds.buffer, w.bounds.byteOffset, w.bounds.byteLength);
  const bounds = Float32Array.from({ length: w.bounds.length / BOUND_BYTES }, (_, i) => b.readFloatLE(i * BOUND_BYTES));
  return { policy: w.policy, promptTokens: w.promptTokens, bounds };
}

/** What the prefill side wrote for a quest request. */
export interface QuestPagesWritten {
  wire: QuestPages;
  bytesWritten: number;
}

/**
 * Prefill side, while the sequence holds its uncompressed prompt: write every page and return the
 * metadata for the KvReady. Null when the request does not fetch pages (not quest, a codec without
 * exact pages, no full block) or a page could not be written (the decode worker then loads the
 * dense prompt, as before).
 */
export async function writeQuestPages(
  engine: EngineHost,
  store: BlockStore,
  plan: PlannedRequest,
  blockSize: number,
  log: Logger,
): Promise<QuestPagesWritten | null> {
  const { config } = engine.modelInfo;
  if (!fetchesQuestPages(plan, config, blockSize) || plan.tokens.length < blockSize) return null;
  const seqId = sequenceId(plan);
  const key = questPagesKey(plan);
  // the sequence holds the prompt with the quest policy set and not yet applied (cachedPrefill)
  const { meta, pages } = await engine.exportQuestPages(seqId, plan.codec, key);
  const bounds = Buffer.alloc(meta.bounds.length * BOUND_BYTES);
  meta.bounds.forEach((x, i) => bounds.writeFloatLE(x, i * BOUND_BYTES));
  if (bounds.length > MAX_SELECTION_META_BYTES) {
    log.warn("quest page bounds exceed MAX_SELECTION_META_BYTES; handing off the dense prompt", {
      requestId: plan.requestId,
      bytes: bounds.length,
    });
    return null;
  }
  const pageBytes = pages.reduce((s, p) => s + p.length, 0);
  const bytesWritten = await putBlocks(store, pages, log, { requestScoped: true });
  if (bytesWritten !== pageBytes) {
    log.warn("quest pages not all written; handing off the dense prompt", { requestId: plan.requestId });
    await deletePages(store, key, pages.length, plan.codec, log);
    return null;
  }
  const wire: QuestPages = {
    policy: meta.policy,
    promptTokens: meta.promptTokens,
    key,
    bounds: new Uint8Array(bounds),
    pageCount: pages.length,
    pageBytes,
    codec: plan.codec,
  };
  return { wire, bytesWritten };
}

async function deletePages(store: BlockStore, key: Uint8Array, count: number, codec: string, log: Logger): Promise<void> {
  const hashes = Array.from({ length: count }, (_, i) => questPageHash(key, i));
  await store.delete(hashes, codec).catch((err: unknown) => log.warn("could not delete quest pages", { err: messageOf(err) }));
}

interface FetchEntry {
  key: Uint8Array;
  codec: string;
  pageCount: number;
  requestId: string;
  bytes: number;
  pages: number;
  failure: KvtierError | null;
}

/**
 * The decode worker's side of on-demand pages: for each quest sequence, where its pages are, what
 * was fetched (bytes, for the request's accounting) and whether a fetch failed. Its `fetch` is the
 * EngineHost's page fetcher; it runs on the service thread while the engine thread waits.
 */
export class QuestPageFetcher {
  private readonly entries = new Map<string, FetchEntry>();

  constructor(
    private readonly store: BlockStore,
    private readonly model: { nLayers: number; nKvHeads: number },
    private readonly log: Logger,
  ) {}

  /** Start serving a sequence's pages (and owe their deletion: call {@link release}). */
  register(seqId: string, requestId: string, wire: Pick<QuestPages, "key" | "codec" | "pageCount">): void {
    this.entries.set(seqId, { key: wire.key, codec: wire.codec, pageCount: wire.pageCount, requestId, bytes: 0, pages: 0, failure: null });
  }

  /** Fetch pages of a registered sequence, in order; rejects (and records the failure) when the store lacks any. */
  fetch = async (seqId: string, refs: QuestPageRef[]): Promise<Uint8Array[]> => {
    const e = this.entries.get(seqId);
    if (!e) throw new Error(`no quest pages registered for sequence ${seqId}`);
    const { nLayers, nKvHeads } = this.model;
    const hashes = refs.map((r) => questPageHash(e.key, questPageIndex(r, nLayers, nKvHeads)));
    try {
      const run = await this.store.getRun(hashes, e.codec, { deadlineMs: PAGE_FETCH_DEADLINE_MS });
      if (run.blocks.length < hashes.length) {
        const r = refs[run.blocks.length];
        throw new KvtierError(
          "UNAVAILABLE",
          `quest page (block ${r.block}, layer ${r.layer}, kv head ${r.head}) of request ${e.requestId} is no longer in the kvstore (evicted between prefill and decode); the request cannot go on without it`,
        );
      }
      e.bytes += run.bytes;
      e.pages += run.blocks.length;
      return run.blocks;
    } catch (err) {
      e.failure ??=
        err instanceof KvtierError
          ? err
          : new KvtierError("UNAVAILABLE", `quest page fetch for request ${e.requestId} failed: ${messageOf(err)}`);
      this.log.warn("quest page fetch failed", { requestId: e.requestId, err: messageOf(err) });
      throw e.failure;
    }
  };

  /** Bytes of pages fetched so far for the sequence (0 if it fetches none). */
  fetchedBytes(seqId: string): number {
    return this.entries.get(seqId)?.bytes ?? 0;
  }

  /** Why the sequence's page fetch failed, or null. */
  failure(seqId: string): KvtierError | null {
    return this.entries.get(seqId)?.failure ?? null;
  }

  /** The request ended: forget the sequence and delete its pages from the store (request-scoped). */
  async release(seqId: string): Promise<void> {
    const e = this.entries.get(seqId);
    if (!e) return;
    this.entries.delete(seqId);
    await deletePages(this.store, e.key, e.pageCount, e.codec, this.log);
  }
}

/** What the decode side loaded for an on-demand quest request. */
export interface QuestPagesLoad extends HandoffLoad {
  summary: SelectionSummary;
}

/**
 * Decode side: bring the (open, reserved, empty) sequence to the quest prompt with pages on
 * demand: the tail block from the store, leading blocks from the device cache, the rest as
 * metadata. Null (sequence untouched) when the tail cannot be had: the caller loads the dense prompt.
 * `transferredBytes` counts the tail and the metadata; pages are counted as they are fetched.
 */
export async function loadQuestPages(
  engine: EngineHost,
  store: BlockStore,
  plan: PlannedRequest,
  handoff: Pick<HandoffBlocks, "blockHashes" | "tailHash" | "tailTokens"> & { questPages: QuestPages },
  log: Logger,
): Promise<QuestPagesLoad | null> {
  const seqId = sequenceId(plan);
  const meta = questPagesFromWire(handoff.questPages);
  let tail: Uint8Array | null = null;
  let tailBytes = 0;
  if (handoff.tailTokens > 0) {
    try {
      const run = await store.getRun([handoff.tailHash], plan.codec);
      if (run.blocks.length === 1) {
        tail = run.blocks[0];
        tailBytes = run.bytes;
      }
    } catch (err) {
      log.warn("quest tail fetch failed", { requestId: plan.requestId, err: messageOf(err) });
    }
    if (tail === null) return null;
  }
  const deviceBlocks = await engine.attachCached(seqId, handoff.blockHashes);
  const summary = await engine.importQuestPages(seqId, meta, tail);
  const metaBytes = handoff.questPages.bounds.length;
  return { deviceBlocks, fetchedBlocks: tail === null ? 0 : 1, transferredBytes: tailBytes + metaBytes, recomputedTokens: 0, summary };
}
