// Codec rows of the quality harness, in report order, and the paired comparisons between them.
import type { QualityMethodRegistry } from "../method-registry.js";
import { codecMethod } from "./codec-method.js";

/** Row id -> codec (id or alias), what the row shows, and a residual window other than the codec's. */
const CODEC_ROWS: readonly [string, string, string, number?][] = [
  ["fp32", "fp32", "fp32, lossless (the harness checks itself: KL 0, top-1 1)"],
  ["fp16", "fp16", "IEEE half"],
  ["bf16", "bf16", "bfloat16 (8 significant bits)"],
  ["fp8", "fp8-e4m3-th-f16", "fp8 E4M3, fp16 scale per token and KV head (each head vector's max |x| -> 448)"],
  ["fp8-unscaled", "fp8-e4m3", "fp8 E4M3, unscaled, saturating at ±448"],
  ["int8-sym", "int8-sym-th-f16", "int8 symmetric, scale per token and KV head"],
  ["int8", "int8-kc-vt32-f16", "int8: keys per channel over the block, values per token (groups of 32 channels)"],
  ["int4", "int4-g32-f16", "int4 asymmetric, per token in groups of 32 channels (K and V)"],
  [
    "kivi4",
    "kivi4-g32-f16",
    "KIVI 4-bit: keys per channel (32-token groups), values per token (32-channel groups), last 128 tokens full precision",
  ],
  ["kivi4-nowindow", "kivi4-g32-f16", "KIVI 4-bit without the residual window (only the unfinished block full precision)", 0],
  [
    "kivi2",
    "kivi2-g32-f16",
    "KIVI 2-bit: keys per channel (32-token groups), values per token (32-channel groups), last 128 tokens full precision",
  ],
  ["kivi2-nowindow", "kivi2-g32-f16", "KIVI 2-bit without the residual window (only the unfinished block full precision)", 0],
  [
    "kivi2-lsq",
    "kivi2-g32-f16-lsq",
    "KIVI 2-bit layout and decoder, each group grid refitted by least squares (may clip extremes), last 128 tokens full precision",
  ],
];

/** Register the codec rows and the comparisons the targets need. */
export function registerCodecMethods(registry: QualityMethodRegistry): void {
  for (const [id, codec, description, residualTokens] of CODEC_ROWS) {
    registry.register(codecMethod(id, codec, `${description} [${codec}]`, { residualTokens }));
  }
  registry.compare("int8", "int8-sym");
  registry.compare("kivi4", "int4");
  registry.compare("fp8", "int8-sym");
  registry.compare("fp8", "fp8-unscaled");
  registry.compare("bf16", "fp16");
  registry.compare("kivi2-lsq", "kivi2");
  registry.compare("kivi2", "kivi2-nowindow");
  registry.compare("kivi4", "kivi4-nowindow");
}
