// How much a CacheGen-style entropy coder could save on top of a fixed-size integer codec: the
// codes of real blocks, coded with static per-(layer, K/V, channel) distributions learned on half
// the windows and measured (cross-entropy, an ideal arithmetic coder) on the other half; plainly
// and as token-to-token deltas (CacheGen's locality). A bound: a real coder only adds overhead.
import { getCodec, resolveCodecId, type AffineCodecSpec, type KvSegmentShape, type ModelConfig } from "@kvtier/tensor";
import type { ReferenceActivations } from "./quality-method.js";

/** The headroom of one codec. */
export interface EntropyHeadroom {
  codec: string;
  /** Code bits per value as stored, and with an ideal static entropy coder (plain, token deltas). */
  code_bits: number;
  coded_bits: number;
  delta_coded_bits: number;
  /** Payload bits per value (codes and scales; the 112-byte header excluded) as stored and with the better coder. */
  block_bits: number;
  block_bits_entropy: number;
  /** 1 - block_bits_entropy / block_bits: the payload saving an ideal coder could reach. */
  saving: number;
  windows: { train: number; test: number };
}

/** Codes of one segment, one byte each, read from the codec's packed little-endian bit stream. */
function codesOf(bytes: Uint8Array, n: number, bits: number): Uint8Array {
  const out = new Uint8Array(n);
  const mask = (1 << bits) - 1;
  for (let i = 0; i < n; i++) out[i] = (bytes[(i * bits) >> 3] >> ((i * bits) & 7)) & mask;
  return out;
}

/** A probe's collected symbols and sizes, structured-cloneable (worker threads send it back). */
export interface EntropyProbeState {
  perCodec: Map<string, { bits: number; train: Map<string, number[]>[]; test: Map<string, number[]>[] }>;
  codeBytes: Map<string, { code: number; block: number; values: number }>;
  windows: { train: number; test: number };
}

/** Collects code histograms per window; train on even-numbered windows, test on odd ones. */
export class EntropyHeadroomProbe {
  private readonly perCodec: EntropyProbeState["perCodec"] = new Map();
  private readonly codeBytes: EntropyProbeState["codeBytes"] = new Map();
  private readonly counts = { train: 0, test: 0 };

  constructor(
    private readonly config: ModelConfig,
    private readonly blockSize: number,
    codecs: readonly string[],
    private readonly specs: ReadonlyMap<string, AffineCodecSpec>,
  ) {
    for (const name of codecs) {
      const id = resolveCodecId(name);
      const spec = specs.get(id);
      if (spec !== undefined) this.perCodec.set(id, { bits: spec.bits, train: [new Map(), new Map()], test: [new Map(), new Map()] });
    }
  }

  /** Add one window's reference K/V (every full block, every layer); even `ordinal`s train, odd ones test. */
  add(reference: ReferenceActivations, ordinal: number): void {
    const c = this.config;
    const kvd = c.nKvHeads * c.headDim;
    const bs = this.blockSize;
    const split = ordinal % 2 === 0 ? "train" : "test";
    this.counts[split]++;
    for (const [id, acc] of this.perCodec) {
      const codec = getCodec(id);
      reference.layers.forEach((layer, l) => {
        for (const [kind, src] of [
          ["k", layer.kPre],
          ["v", layer.v],
        ] as const) {
          const seg: KvSegmentShape = { kind, tokens: bs, nKvHeads: c.nKvHeads, headDim: c.headDim };
          for (let b = 0; (b + bs) * kvd <= src.length; b += bs) {
            const values = src.subarray(b * kvd, (b + bs) * kvd);
            const bytes = new Uint8Array(codec.bytesFor(values.length, seg));
            codec.encode(values, bytes, seg);
            const codes = codesOf(bytes, values.length, acc.bits);
            const prev = this.codeBytes.get(id) ?? { code: 0, block: 0, values: 0 };
            this.codeBytes.set(id, {
              code: prev.code + Math.ceil((values.length * acc.bits) / 8),
              block: prev.block + bytes.length,
              values: prev.values + values.length,
            });
            for (let ch = 0; ch < kvd; ch++) {
              const key = `${l}/${kind}/${ch}`;
              const plain = acc[split][0].get(key) ?? [];
              const delta = acc[split][1].get(key) ?? [];
              for (let t = 0; t < bs; t++) {
                const q = codes[t * kvd + ch];
                plain.push(q);
                delta.push(t === 0 ? q : q - codes[(t - 1) * kvd + ch]);
              }
              acc[split][0].set(key, plain);
              acc[split][1].set(key, delta);
            }
          }
        }
      });
    }
  }

  /** What this probe collected (to merge probes of several worker threads). */
  state(): EntropyProbeState {
    return { perCodec: this.perCodec, codeBytes: this.codeBytes, windows: { ...this.counts } };
  }

  /** Merge another probe's state (same codecs) into this one. */
  absorb(other: EntropyProbeState): void {
    for (const [id, acc] of other.perCodec) {
      const mine = this.perCodec.get(id);
      if (mine === undefined) continue;
      for (const split of ["train", "test"] as const) {
        acc[split].forEach((map, i) => {
          for (const [key, symbols] of map) mine[split][i].set(key, [...(mine[split][i].get(key) ?? []), ...symbols]);
        });
      }
    }
    for (const [id, b] of other.codeBytes) {
      const prev = this.codeBytes.get(id) ?? { code: 0, block: 0, values: 0 };
      this.codeBytes.set(id, { code: prev.code + b.code, block: prev.block + b.block, values: prev.values + b.values });
    }
    this.counts.train += other.windows.train;
    this.counts.test += other.windows.test;
  }

  /** Cross-entropy bits per value of `test` under add-half smoothed distributions of `train`. */
  private static crossEntropy(train: Map<string, number[]>, test: Map<string, number[]>, alphabet: number): number {
    let bits = 0;
    let n = 0;
    for (const [key, symbols] of test) {
      const counts = new Map<number, number>();
      const seen = train.get(key) ?? [];
      for (const q of seen) counts.set(q, (counts.get(q) ?? 0) + 1);
      for (const q of symbols) {
        bits -= Math.log2(((counts.get(q) ?? 0) + 0.5) / (seen.length + 0.5 * alphabet));
        n++;
      }
    }
    return n > 0 ? bits / n : NaN;
  }

  /** The headroom of every probed codec (needs at least two windows: one to learn, one to test). */
  result(): EntropyHeadroom[] {
    const out: EntropyHeadroom[] = [];
    for (const [id, acc] of this.perCodec) {
      if (acc.test[0].size === 0) continue;
      const levels = 1 << acc.bits;
      const coded = EntropyHeadroomProbe.crossEntropy(acc.train[0], acc.test[0], levels);
      const delta = EntropyHeadroomProbe.crossEntropy(acc.train[1], acc.test[1], 2 * levels - 1);
      const sizes = this.codeBytes.get(id)!;
      const codeBits = (8 * sizes.code) / sizes.values;
      const blockBits = (8 * sizes.block) / sizes.values;
      const entropyBlock = blockBits - codeBits + Math.min(coded, delta, codeBits);
      out.push({
        codec: id,
        code_bits: codeBits,
        coded_bits: coded,
        delta_coded_bits: delta,
        block_bits: blockBits,
        block_bits_entropy: entropyBlock,
        saving: 1 - entropyBlock / blockBits,
        windows: { ...this.counts },
      });
    }
    return out;
  }
}
