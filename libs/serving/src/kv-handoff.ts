// The prefill -> decode hand-off of a request's KV: the prefill worker writes the prompt's full
// blocks and its partial tail block to the kvstore; the decode worker takes what its own device
// pool already holds, fetches the rest, and recomputes whatever it could not get.
import { messageOf, sequenceId, type KvStoreClient, type Logger, type PlannedRequest } from "@kvtier/platform";
import { chainNext } from "@kvtier/prefix-index";
import type { EngineHost } from "@kvtier/tensor";
import type { PrefillOutcome } from "./cached-prefill.js";


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
export async function putBlocks(store: KvStoreClient, blocks: Uint8Array[], log: Logger): Promise<number> {
  let bytes = 0;
  try {
    const results = await store.putRun(blocks);
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
async function leadingInStore(store: KvStoreClient, hashes: Uint8Array[], codec: string, log: Logger): Promise<number> {
  if (hashes.length === 0) return 0;
  try {
    return await store.lookup(hashes, codec);
  } catch (err) {
    log.warn("kvstore lookup failed; writing the device blocks again", { err: messageOf(err) });
    return 0;
  }
}

/**
 * Prefill side: write every full prompt block the store does not already hold, and the tail.
 * Blocks attached from the device pool were usually written when first computed: one lookup
 * finds the leading ones the store still holds, so they are not exported and sent again.
 */
export async function writeHandoff(
  engine: EngineHost,
  store: KvStoreClient,
  plan: PlannedRequest,
  outcome: PrefillOutcome,
  blockSize: number,
  log: Logger,
): Promise<HandoffBlocks> {
  const seqId = sequenceId(plan);
  const full = Math.floor(plan.tokens.length / blockSize);
  const fromStore = [outcome.deviceBlocks, outcome.deviceBlocks + outcome.storeBlocks];
  const alreadyStored = await leadingInStore(store, plan.blockHashes.slice(0, outcome.deviceBlocks), plan.codec, log);
  const ranges: [number, number][] = [
    [alreadyStored, fromStore[0]],
    [fromStore[1], full],
  ];
  const blocks: Uint8Array[] = [];
  for (const [a, b] of ranges) {
    if (b > a) blocks.push(...(await engine.exportBlocks(seqId, a, b - a, plan.codec, plan.blockHashes.slice(a, b))));
  }
  const tail = tailHashOf(plan, blockSize);
  if (tail.tokens > 0) {
    const t = await engine.exportTail(seqId, plan.codec, tail.hash);
    if (t) blocks.push(t);
  }
  const bytesWritten = await putBlocks(store, blocks, log);
  return { blockHashes: plan.blockHashes.slice(0, full), tailHash: tail.hash, tailTokens: tail.tokens, bytesWritten };
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
 * then the store; whatever is missing or fails verification is recomputed here.
 */
export async function loadHandoff(
  engine: EngineHost,
  store: KvStoreClient | undefined,
  plan: PlannedRequest,
  handoff: Pick<HandoffBlocks, "blockHashes" | "tailHash" | "tailTokens">,
  log: Logger,
): Promise<HandoffLoad> {
  const seqId = sequenceId(plan);
  const hashes = handoff.blockHashes;
  const deviceBlocks = await engine.attachCached(seqId, hashes);
  let fetchedBlocks = 0;
  let transferredBytes = 0;
  if (store) {
    try {
      const wanted = hashes.slice(deviceBlocks);
      const withTail = handoff.tailTokens > 0 ? [...wanted, handoff.tailHash] : wanted;
      const run = await store.getRun(withTail, plan.codec);
      if (run.blocks.length > 0) {
        await engine.importBlocks(seqId, run.blocks);
        fetchedBlocks = run.blocks.length;
        transferredBytes = run.bytes;
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
