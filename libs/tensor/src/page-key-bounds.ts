// Quest's page metadata, kept next to the pool: per page, layer and KV head, the per-channel
// min and max of the rotated keys written to the page. Updated on every write and import
// (never recomputed per step), reset when a page is (re)allocated.

/** Per-layer arrays [page][kvHead][headDim] of channel minima and maxima of rotated keys. */
export class PageKeyBounds {
  /** Per layer, channel minima. */
  readonly min: Float32Array[];
  /** Per layer, channel maxima. */
  readonly max: Float32Array[];
  private readonly kvDim: number;

  constructor(nLayers: number, capacityBlocks: number, kvDim: number) {
    this.kvDim = kvDim;
    this.min = Array.from({ length: nLayers }, () => new Float32Array(capacityBlocks * kvDim).fill(Infinity));
    this.max = Array.from({ length: nLayers }, () => new Float32Array(capacityBlocks * kvDim).fill(-Infinity));
  }

  /** Forget a page's keys (it is about to hold new ones). */
  reset(page: number): void {
    const from = page * this.kvDim;
    for (let l = 0; l < this.min.length; l++) {
      this.min[l].fill(Infinity, from, from + this.kvDim);
      this.max[l].fill(-Infinity, from, from + this.kvDim);
    }
  }

  /** Widen `page`'s bounds in `layer` by one token's rotated keys at keys[off..off+kvDim). */
  include(layer: number, page: number, keys: Float32Array, off: number): void {
    const mn = this.min[layer];
    const mx = this.max[layer];
    const base = page * this.kvDim;
    for (let i = 0; i < this.kvDim; i++) {
      const k = keys[off + i];
      if (k < mn[base + i]) mn[base + i] = k;
      if (k > mx[base + i]) mx[base + i] = k;
    }
  }
}
