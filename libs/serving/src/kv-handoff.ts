// The prefill -> decode hand-off of a request's KV: the prefill worker writes the prompt's full
// blocks and its partial tail block to the kvstore; the decode worker takes what its own device
// pool already holds, fetches the rest, and recomputes whatever it could not get.
import { createHash } from "node:crypto";
import { BLOCK_HASH_BYTES, messageOf, sequenceId, type Logger, type PlannedRequest } from "@kvtier/core";
import type { BlockStore, BlockPutOptions } from "./block-store.js";
import { chainNext } from "@kvtier/kv-router";
import { readKvBlockHeader, type EngineHost } from "@kvtier/tensor";
import type { PrefillOutcome } from "./cached-prefill.js";
import { exportWindow, fetchWindow, residualWindowOf } from "./residual-window.js";

/** What the prefill worker tells the decode worker about the blocks. */
export interface HandoffBlocks {
  blockHashes: Uint8Array[];
  tailHash: Uint8Array;
  tailTokens: number;
  bytesWritten: number;
}

/** Hash of the partial last block (empty when the prompt is block-aligned). */
export function tailHashOf(plan: PlannedRequest, blockSize: number): { hash: Uint8Array; tokens: number } {
  const full = Math.floor(plan.tokens.length / blockSize);
  const tokens = plan.tokens.length - full * blockSize;
  if (tokens === 0) return { hash: new Uint8Array(0), tokens: 0 };
  const parent = full > 0 ? plan.blockHashes[full - 1] : plan.namespaceHash;
  return { hash: chainNext(parent, plan.tokens.slice(full * blockSize)), tokens };
}

/**
 * Put blocks as one run (one request per codec on the fast paths; bounded concurrent Puts on
 * gRPC); returns bytes written. Failures are logged, not thrown.
 */
export async function putBlocks(store: BlockStore, blocks: Uint8Array[], log: Logger, opts: BlockPutOptions = {}): Promise<number> {
  let bytes = 0;
  try {
    const results = await store.putRun(blocks, opts);
    results.forEach((r, i) => {
      if (r.error) log.warn("kvstore put failed", { err: r.error.message });
      else bytes += blocks[i].length;
    });
  } catch (err) {
    log.warn("kvstore put failed", { err: messageOf(err) });
  }
  return bytes;
}

/** Leading blocks of `hashes` the store holds (0 when it cannot say: then they are written again). */
async function leadingInStore(store: BlockStore, hashes: Uint8Array[], codec: string, log: Logger): Promise<number> {
  if (hashes.length === 0) return 0;
  try {
    return await store.lookup(hashes, codec);
  } catch (err) {
    log.warn("kvstore lookup failed; writing the device blocks again", { err: messageOf(err) });
    return 0;
  }
}

/** Options of {@link writeHandoff}. */
export interface WriteHandoffOptions {
  /**
   * Write the request's residual window (KIVI) for a decode worker to import. False when no
   * decode worker will (a decode worker writing back the blocks of its own local prefill): then
   * only the shared full blocks are written. @default true
   */
  residualWindow?: boolean;
}

/** The request-derived hash of hand-off block `index` (the prompt's full block count: its tail) of one attempt. */
function handoffBlockHash(plan: Pick<PlannedRequest, "namespaceHash" | "requestId" | "attempt">, index: number): Uint8Array {
  const h = createHash("sha256")
    .update("kvtier-handoff-block-v1")
    .update(plan.namespaceHash)
    .update(`${plan.requestId}@${plan.attempt}#${index}`);
  return new Uint8Array(h.digest().subarray(0, BLOCK_HASH_BYTES));
}

/**
 * Prefill side: write every full prompt block the store does not already hold, and the tail.
 * Blocks attached from the device pool were usually written when first computed: one lookup
 * finds the leading ones the store still holds, so they are not exported and sent again.
 * With a residual window (KIVI), the tail is not written in the codec: the window's blocks go
 * at full precision instead, request-scoped (residual-window.ts).
 *
 * A block hash names one content per codec: the codec's encoding of the exact KV of its tokens.
 * Blocks this prefill computed over a prefix it loaded through a lossy codec hold other KV, so
 * they go to the decode worker request-scoped, under request-derived hashes (what the returned
 * `blockHashes` / `tailHash` name), never under the tokens' hashes.
 */
export async function writeHandoff(
  engine: EngineHost,
  store: BlockStore,
  plan: PlannedRequest,
  outcome: PrefillOutcome,
  blockSize: number,
  log: Logger,
  opts: WriteHandoffOptions = {},
): Promise<HandoffBlocks> {
  const seqId = sequenceId(plan);
  const full = Math.floor(plan.tokens.length / blockSize);
  const fromStore = [outcome.deviceBlocks, outcome.deviceBlocks + outcome.storeBlocks];
  const [alreadyStored, exactTokens] = await Promise.all([
    leadingInStore(store, plan.blockHashes.slice(0, outcome.deviceBlocks), plan.codec, log),
    engine.exactTokens(seqId),
  ]);
  // blocks before fromStore[1] are exact (device) or already stored; computed ones are shared while
  // exact. A residual-window codec (KIVI) computes under its own write transform: its blocks are
  // that codec's family and all shared, as its tail is never written (the window goes instead).
  const transformed = residualWindowOf(plan, 1) !== null;
  const sharedBlocks = transformed ? full : Math.max(fromStore[1], Math.floor(exactTokens / blockSize));
  const hashes = plan.blockHashes.slice(0, full).map((h, i) => (i < sharedBlocks ? h : handoffBlockHash(plan, i)));
  const shared: Uint8Array[] = [];
  const own: Uint8Array[] = [];
  for (const [a, b] of [
    [alreadyStored, fromStore[0]],
    [fromStore[1], full],
  ] as const) {
    if (b <= a) continue;
    const exported = await engine.exportBlocks(seqId, a, b - a, plan.codec, hashes.slice(a, b));
    exported.forEach((block, i) => (a + i < sharedBlocks ? shared : own).push(block));
  }
  const tailTokens = plan.tokens.length - full * blockSize;
  const tailShared = transformed || exactTokens >= plan.tokens.length;
  const tailHash = tailTokens === 0 ? new Uint8Array(0) : tailShared ? tailHashOf(plan, blockSize).hash : handoffBlockHash(plan, full);
  const window = opts.residualWindow === false ? null : residualWindowOf(plan, blockSize);
  // the window's blocks are the request's own (request-derived hashes): stored, never announced
  if (window) own.push(...(await exportWindow(engine, plan, window)));
  else if (tailTokens > 0) {
    // the prompt's tail, even if the sequence has decoded past it meanwhile (a local prefill's
    // hand-off is written while its decoding starts)
    const t = await engine.exportTail(seqId, plan.codec, tailHash, plan.tokens.length);
    if (t) (tailShared ? shared : own).push(t);
  }
  const bytesWritten =
    (await putBlocks(store, shared, log)) + (own.length > 0 ? await putBlocks(store, own, log, { requestScoped: true }) : 0);
  return { blockHashes: hashes, tailHash, tailTokens, bytesWritten };
}

/** What the decode side loaded. */
export interface HandoffLoad {
  deviceBlocks: number;
  fetchedBlocks: number;
  transferredBytes: number;
  recomputedTokens: number;
}

/**
 * Decode side: bring the sequence (open, reserved, empty) to the whole prompt. Device pool first,
 * then the store; whatever is missing or fails verification is recomputed here. With a residual
 * window, encoded blocks are taken only before the window, then the window's full-precision blocks.
 */
export async function loadHandoff(
  engine: EngineHost,
  store: BlockStore | undefined,
  plan: PlannedRequest,
  handoff: Pick<HandoffBlocks, "blockHashes" | "tailHash" | "tailTokens">,
  log: Logger,
): Promise<HandoffLoad> {
  const seqId = sequenceId(plan);
  const window = residualWindowOf(plan, blockSize(plan, handoff));
  const hashes = window ? handoff.blockHashes.slice(0, window.firstBlock) : handoff.blockHashes;
  const deviceBlocks = await engine.attachCached(seqId, hashes);
  let fetchedBlocks = 0;
  let transferredBytes = 0;
  if (store) {
    try {
      const wanted = hashes.slice(deviceBlocks);
      const withTail = handoff.tailTokens > 0 && !window ? [...wanted, handoff.tailHash] : wanted;
      const run = wanted.length > 0 || withTail.length > 0 ? await store.getRun(withTail, plan.codec) : { blocks: [], bytes: 0 };
      const blocks = [...run.blocks];
      let bytes = run.bytes;
      // the tail must hold exactly the prompt's tail tokens (its hash names them): anything else is not used
      if (blocks.length === withTail.length && withTail.length > wanted.length) {
        const got = readKvBlockHeader(blocks[blocks.length - 1]).tokens;
        if (got !== handoff.tailTokens) {
          log.warn("tail block holds the wrong number of tokens; recomputing the tail", {
            requestId: plan.requestId,
            tokens: got,
            expected: handoff.tailTokens,
          });
          bytes -= blocks.pop()!.length;
        }
      }
      if (window && run.blocks.length === wanted.length) {
        const w = await fetchWindow(store, plan, window, log);
        if (w) {
          blocks.push(...w.blocks);
          bytes += w.bytes;
        }
      }
      if (blocks.length > 0) {
        await engine.importBlocks(seqId, blocks);
        fetchedBlocks = blocks.length;
        transferredBytes = bytes;
      }
    } catch (err) {
      log.warn("hand-off fetch failed; recomputing", { requestId: plan.requestId, err: messageOf(err) });
    }
  }
  const have = await engine.length(seqId);
  const rest = plan.tokens.slice(have);
  if (rest.length > 0) await engine.prefill(seqId, rest);
  return { deviceBlocks, fetchedBlocks, transferredBytes, recomputedTokens: rest.length };
}

/** The deployment's block size, as the hand-off implies it (full blocks cover the prompt's first tokens). */
function blockSize(plan: PlannedRequest, handoff: Pick<HandoffBlocks, "blockHashes" | "tailTokens">): number {
  const full = handoff.blockHashes.length;
  return full > 0 ? (plan.tokens.length - handoff.tailTokens) / full : plan.tokens.length + 1;
}
