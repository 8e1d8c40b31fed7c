// Prefill with cache reuse, as both the prefill worker and a decode worker prefilling locally
// (conditional disaggregation) run it: attach leading blocks from the device pool, load the next
// run from the kvstore, compute the rest, sample the first token.
import { KvtierError, RETRY_AFTER_POOL_MS, messageOf, sequenceId, type Logger, type PlannedRequest } from "@kvtier/core";
import { reusableBlocks } from "@kvtier/kv-router";
import { Sampler, type EngineHost, type SampledToken } from "@kvtier/tensor";
import type { BlockStore } from "./block-store.js";
import { residualWindowOf } from "./residual-window.js";
import { hasPolicy, policyReusableBlocks } from "./plan-policy.js";

/** Tokens (or bytes) per tier. */
export interface TierTally {
  device: number;
  host: number;
  ssd: number;
}

export const emptyTally = (): TierTally => ({ device: 0, host: 0, ssd: 0 });

/** What a cached prefill did. */
export interface PrefillOutcome {
  seqId: string;
  first: SampledToken;
  samplerState: Uint32Array;
  cachedTokens: number;
  cachedByTier: TierTally;
  loadedBytesByTier: TierTally;
  /** Leading blocks attached from the device pool. */
  deviceBlocks: number;
  /** Blocks loaded from the kvstore, following the device ones. */
  storeBlocks: number;
}

/** Bytes of one block's K and V as the pool holds them (fp32). */
function poolBytesPerBlock(engine: EngineHost, blockSize: number): number {
  const c = engine.modelInfo.config;
  return 2 * c.nLayers * blockSize * c.nKvHeads * c.headDim * Float32Array.BYTES_PER_ELEMENT;
}

/**
 * Run a prefill with cache reuse on `engine`. The sequence must be open and reserved. A kvstore
 * failure is a cache miss: the blocks are computed instead. With a selection policy in the plan,
 * the sequence gets the policy first (compress it once the hand-off blocks are exported).
 */
export async function cachedPrefill(
  engine: EngineHost,
  store: BlockStore | undefined,
  plan: PlannedRequest,
  blockSize: number,
  log: Logger,
): Promise<PrefillOutcome> {
  const seqId = sequenceId(plan);
  // a selection policy observes the prompt's last rows while they are computed: set it first,
  // and take from cache only the blocks before the rows it needs
  if (hasPolicy(plan)) await engine.setSelectionPolicy(seqId, plan.policy, plan.tokens.length);
  // with a residual window (KIVI), blocks inside it must be computed: cached ones hold them encoded
  const window = residualWindowOf(plan, blockSize);
  const reusable = Math.min(reusableBlocks(plan.tokens.length, blockSize), window ? window.firstBlock : Infinity);
  const hashes = plan.blockHashes.slice(0, policyReusableBlocks(plan, blockSize, reusable));
  const deviceBlocks = await engine.attachCached(seqId, hashes);
  const loadedBytesByTier = emptyTally();
  let storeBlocks = 0;
  if (store && deviceBlocks < hashes.length) {
    try {
      const run = await store.getRun(hashes.slice(deviceBlocks), plan.codec);
      if (run.blocks.length > 0) {
        await engine.importBlocks(seqId, run.blocks);
        storeBlocks = run.blocks.length;
        loadedBytesByTier.host += run.bytes;
      }
    } catch (err) {
      log.warn("kvstore load failed; computing instead", { requestId: plan.requestId, err: messageOf(err) });
    }
  }
  // device blocks are not copied, but they are KV the request reads from that tier: count their pool bytes
  loadedBytesByTier.device = deviceBlocks * poolBytesPerBlock(engine, blockSize);
  const start = (deviceBlocks + storeBlocks) * blockSize;
  const logits = await engine.prefill(seqId, plan.tokens.slice(start));
  const sampler = new Sampler(plan.sampling);
  const first = sampler.sample(logits, plan.logprobs);
  return {
    seqId,
    first,
    samplerState: sampler.state,
    cachedTokens: start,
    cachedByTier: { device: deviceBlocks * blockSize, host: storeBlocks * blockSize, ssd: 0 },
    loadedBytesByTier,
    deviceBlocks,
    storeBlocks,
  };
}

/**
 * Open a sequence and reserve room for `tokens`, or fail with RESOURCE_EXHAUSTED. A codec with a
 * residual window (KIVI) gives the sequence its write transform (no selection policy named).
 */
export async function openReserved(engine: EngineHost, plan: PlannedRequest, tokens: number): Promise<string> {
  const seqId = sequenceId(plan);
  await engine.openSequence(seqId);
  if (!hasPolicy(plan) && residualWindowOf(plan, 1) !== null) await engine.setResidualCodec(seqId, plan.codec);
  if (!(await engine.reserve(seqId, tokens))) {
    await engine.closeSequence(seqId);
    throw new KvtierError("RESOURCE_EXHAUSTED", `KV pool cannot hold ${tokens} tokens now`, { retryAfterMs: RETRY_AFTER_POOL_MS });
  }
  return seqId;
}
