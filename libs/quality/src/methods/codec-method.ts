// A codec as a harness row: the engine runs the window with the codec applied as each position is
// written (per token, or per full block for codecs whose groups span tokens); bytes are the
// window's full blocks encoded for real; attention error and speed come from the same blocks.
import { BLOCK_HASH_BYTES } from "@kvtier/core";
import {
  LlamaEngine,
  codecWriteTransform,
  encodeKvBlock,
  getCodec,
  resolveCodecId,
  type KvCodec,
  type KvSegmentShape,
  type ModelConfig,
} from "@kvtier/tensor";
import { attentionOutputError } from "../attention-error.js";
import type { EvalWindow, MethodTiming, QualityMethod, WindowOutcome } from "../quality-method.js";
import { rotateKeys } from "../reference-forward.js";

/** Timed repetitions of a window's encode and decode; the fastest counts. */
const CODEC_TIMING_REPEATS = 3;
/** Attention-output error is measured at every this-many-th scored position (it costs as much as a forward). */
const ATTENTION_ERROR_STEP = 4;

const NO_HASH = new Uint8Array(BLOCK_HASH_BYTES);

/** A window's K (pre-RoPE) and V per layer after the codec, as attention would read them. */
interface CodedCache {
  /** Rotated decoded keys and decoded values per layer, for every position the codec covers. */
  keysRot: Float32Array[];
  values: Float32Array[];
  /** Positions [0, coded) hold decoded values; later ones are the reference's. */
  coded: number;
}

/** Encode then decode one segment of `tokens` positions starting at `first`, in place into `out`. */
function roundTrip(
  codec: KvCodec,
  src: Float32Array,
  out: Float32Array,
  first: number,
  tokens: number,
  kind: "k" | "v",
  c: ModelConfig,
  scratch: Uint8Array,
): void {
  const kvd = c.nKvHeads * c.headDim;
  const seg: KvSegmentShape = { kind, tokens, nKvHeads: c.nKvHeads, headDim: c.headDim };
  const values = src.subarray(first * kvd, (first + tokens) * kvd);
  const bytes = scratch.subarray(0, codec.bytesFor(values.length, seg));
  codec.encode(values, bytes, seg);
  codec.decode(bytes, out.subarray(first * kvd, (first + tokens) * kvd), seg);
}

function codedCache(codec: KvCodec, w: EvalWindow): CodedCache {
  const c = w.model.config;
  const bs = w.blockSize;
  const n = w.tokens.length;
  const perToken = codec.groupsAcrossTokens !== true;
  const coded = perToken ? n : Math.floor(n / bs) * bs;
  const scratch = new Uint8Array(8 * bs * c.nKvHeads * c.headDim + 4096);
  const keysRot: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (const layer of w.reference.layers) {
    const k = layer.kPre.slice();
    const v = layer.v.slice();
    for (let first = 0; first < coded; first += bs) {
      const tokens = Math.min(bs, coded - first);
      roundTrip(codec, layer.kPre, k, first, tokens, "k", c, scratch);
      roundTrip(codec, layer.v, v, first, tokens, "v", c, scratch);
    }
    keysRot.push(rotateKeys(c, k));
    values.push(v);
  }
  return { keysRot, values, coded };
}

/** Stored and fp16 bytes of the window's full blocks (real encodes, headers included). */
function blockBytes(codecId: string, w: EvalWindow): { stored: number; fp16: number; blocks: number } {
  const c = w.model.config;
  const kvd = c.nKvHeads * c.headDim;
  const bs = w.blockSize;
  const blocks = Math.floor(w.tokens.length / bs);
  let stored = 0;
  let fp16 = 0;
  for (let b = 0; b < blocks; b++) {
    const k = new Float32Array(c.nLayers * bs * kvd);
    const v = new Float32Array(c.nLayers * bs * kvd);
    w.reference.layers.forEach((layer, l) => {
      k.set(layer.kPre.subarray(b * bs * kvd, (b + 1) * bs * kvd), l * bs * kvd);
      v.set(layer.v.subarray(b * bs * kvd, (b + 1) * bs * kvd), l * bs * kvd);
    });
    const shape = {
      modelId: w.model.modelId,
      nLayers: c.nLayers,
      nKvHeads: c.nKvHeads,
      headDim: c.headDim,
      tokens: bs,
      blockSize: bs,
      blockHash: NO_HASH,
    };
    stored += encodeKvBlock({ ...shape, codec: codecId }, k, v).length;
    fp16 += encodeKvBlock({ ...shape, codec: "fp16" }, k, v).length;
  }
  return { stored, fp16, blocks };
}

/** Encode and decode seconds of every full block segment of the window (fastest of a few repeats). */
function timeCodec(codec: KvCodec, w: EvalWindow): MethodTiming {
  const c = w.model.config;
  const kvd = c.nKvHeads * c.headDim;
  const bs = w.blockSize;
  const blocks = Math.floor(w.tokens.length / bs);
  const segs: { values: Float32Array; seg: KvSegmentShape; bytes: Uint8Array; out: Float32Array }[] = [];
  for (const layer of w.reference.layers) {
    for (let b = 0; b < blocks; b++) {
      for (const [kind, src] of [
        ["k", layer.kPre],
        ["v", layer.v],
      ] as const) {
        const seg: KvSegmentShape = { kind, tokens: bs, nKvHeads: c.nKvHeads, headDim: c.headDim };
        const values = src.subarray(b * bs * kvd, (b + 1) * bs * kvd);
        segs.push({ values, seg, bytes: new Uint8Array(codec.bytesFor(values.length, seg)), out: new Float32Array(values.length) });
      }
    }
  }
  let encodeSeconds = Infinity;
  let decodeSeconds = Infinity;
  for (let r = 0; r < CODEC_TIMING_REPEATS; r++) {
    const t0 = performance.now();
    for (const s of segs) codec.encode(s.values, s.bytes, s.seg);
    const t1 = performance.now();
    for (const s of segs) codec.decode(s.bytes, s.out, s.seg);
    const t2 = performance.now();
    encodeSeconds = Math.min(encodeSeconds, (t1 - t0) / 1000);
    decodeSeconds = Math.min(decodeSeconds, (t2 - t1) / 1000);
  }
  return { encodeSeconds, decodeSeconds, kvBytes: segs.reduce((sum, s) => sum + s.values.byteLength, 0) };
}

/** Options of a codec row. */
export interface CodecMethodOptions {
  /** Residual window in tokens (0 = off). @default the codec's (128 for KIVI, else 0) */
  residualTokens?: number;
}

/**
 * The harness row of codec `codecName` (an id or alias). Logits come from the engine with
 * codecWriteTransform: the last `residualTokens` positions stay as computed (KIVI's residual
 * window, as a live request keeps it); without a window a block codec leaves only the unfinished
 * tail block as computed.
 */
export function codecMethod(id: string, codecName: string, description?: string, opts?: CodecMethodOptions): QualityMethod {
  const codecId = resolveCodecId(codecName);
  const codec = getCodec(codecId);
  const residualTokens = opts?.residualTokens ?? codec.residualTokens ?? 0;
  return {
    id,
    kind: "codec",
    description: description ?? `codec ${codecId}`,
    evaluate(w: EvalWindow): WindowOutcome {
      const c = w.model.config;
      const engine = new LlamaEngine(w.model, {
        blockSize: w.blockSize,
        capacityBlocks: Math.ceil(w.tokens.length / w.blockSize) + 1,
        kvTransform: codecWriteTransform(codecId, c, { residualTokens }),
      });
      engine.openSequence("window");
      const logits = engine.prefillWithLogits("window", [...w.tokens]).slice(w.scoreFrom, w.scoreTo + 1);
      const cache = codedCache(codec, w);
      const attentionRelError = attentionOutputError(c, w.reference, {
        from: w.scoreFrom,
        to: w.scoreTo,
        step: ATTENTION_ERROR_STEP,
        cacheAt: progressiveCache(w, cache, codec.groupsAcrossTokens === true, residualTokens),
      });
      const bytes = blockBytes(codecId, w);
      return {
        logits,
        storedBytes: bytes.stored,
        fp16Bytes: bytes.fp16,
        positions: bytes.blocks * w.blockSize,
        attentionRelError,
        timing: timeCodec(codec, w),
      };
    },
  };
}

/**
 * What query p reads. Without a window: per-token codecs, the coded cache everywhere; block
 * codecs, coded blocks that are full by p (the block ending at p included, as the engine does) and
 * reference values after. With a window of R: coded values up to p - R, coded keys up to p - R
 * (per-token codecs) or up to the last block wholly at or before p - R (block codecs).
 */
function progressiveCache(
  w: EvalWindow,
  coded: CodedCache,
  byBlock: boolean,
  window: number,
): (layer: number, query: number) => { keysRot: Float32Array; values: Float32Array } {
  if (!byBlock && window === 0) return (l) => ({ keysRot: coded.keysRot[l], values: coded.values[l] });
  const kvd = w.model.config.nKvHeads * w.model.config.headDim;
  let layer = -1;
  let filled = 0;
  let keysFilled = 0;
  let keys = new Float32Array(0);
  let values = new Float32Array(0);
  return (l, query) => {
    if (l !== layer) {
      layer = l;
      filled = 0;
      keysFilled = 0;
      keys = w.reference.layers[l].kRot.slice();
      values = w.reference.layers[l].v.slice();
    }
    const settled = query + 1 - window; // positions [0, settled) have left the window
    const blockEnd = Math.floor(Math.max(0, settled) / w.blockSize) * w.blockSize;
    const keysTo = Math.min(coded.coded, byBlock ? blockEnd : Math.max(0, settled));
    const valuesTo = Math.min(coded.coded, window === 0 ? blockEnd : Math.max(0, settled));
    if (keysTo > keysFilled) {
      keys.set(coded.keysRot[l].subarray(keysFilled * kvd, keysTo * kvd), keysFilled * kvd);
      keysFilled = keysTo;
    }
    if (valuesTo > filled) {
      values.set(coded.values[l].subarray(filled * kvd, valuesTo * kvd), filled * kvd);
      filled = valuesTo;
    }
    return { keysRot: keys, values };
  };
}
