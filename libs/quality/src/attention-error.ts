// Attention-output relative error of a compressed cache, layer by layer in isolation: the
// reference queries attend over the method's keys/values (or over the positions it kept), and the
// result is compared with the reference attention output of the same row.
import type { ModelConfig } from "@kvtier/tensor";
import type { ReferenceActivations } from "./quality-method.js";
import { attendPosition } from "./reference-forward.js";

/** What a method changes in the cache; everything omitted is the reference's. */
export interface AttentionErrorOptions {
  /** First and last query position scored (inclusive). */
  readonly from: number;
  readonly to: number;
  /** Score every `step`-th query position from `from` (a cheaper estimate). @default 1 */
  readonly step?: number;
  /** Rotated keys the method's attention reads, per layer, [position][nKvHeads * headDim]. */
  readonly keysRot?: readonly Float32Array[];
  /** Values the method's attention reads, per layer, same layout. */
  readonly values?: readonly Float32Array[];
  /**
   * The cache query `query` of `layer` reads, when it changes with the query (a block codec
   * compresses a block once it is full). Called with queries in increasing order within a layer.
   */
  readonly cacheAt?: (layer: number, query: number) => { keysRot: Float32Array; values: Float32Array };
  /** Whether query position `query` may read key position `key` of `kvHead` in `layer` (selection). */
  readonly visible?: (layer: number, kvHead: number, query: number, key: number) => boolean;
}

/**
 * Mean over layers and query positions from..to of ||o' - o|| / ||o||, where o is a row's
 * reference attention output (all heads, before the output projection) and o' the same row's
 * output over the method's cache.
 */
export function attentionOutputError(config: ModelConfig, reference: ReferenceActivations, opts: AttentionErrorOptions): number {
  const dim = config.nHeads * config.headDim;
  const row = new Float32Array(dim);
  const scores = new Float64Array(opts.to + 1);
  let total = 0;
  let count = 0;
  const allowed = opts.visible;
  reference.layers.forEach((layer, l) => {
    for (let pos = opts.from; pos <= opts.to; pos += opts.step ?? 1) {
      const cache = opts.cacheAt?.(l, pos);
      const keys = cache?.keysRot ?? opts.keysRot?.[l] ?? layer.kRot;
      const values = cache?.values ?? opts.values?.[l] ?? layer.v;
      const visible = allowed === undefined ? undefined : (kvHead: number, key: number) => allowed(l, kvHead, pos, key);
      attendPosition(config, row, 0, layer.q, keys, values, pos, scores, visible);
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        const o = layer.attn[pos * dim + i];
        diff += (row[i] - o) ** 2;
        norm += o * o;
      }
      total += norm > 0 ? Math.sqrt(diff / norm) : Math.sqrt(diff);
      count++;
    }
  });
  return count > 0 ? total / count : 0;
}
