// Public entry of @kvtier/tensor: KV block format, codecs, and (below) the reference Llama engine.
export {
  KV_BLOCK_LAYOUT_VERSION,
  KV_BLOCK_HEADER_BYTES,
  MAX_KV_BLOCK_BYTES,
  KV_BLOCK_MODEL_ID_BYTES,
  KV_BLOCK_CODEC_ID_BYTES,
  encodeKvBlock,
  readKvBlockHeader,
  verifyKvBlock,
  decodeKvBlock,
} from "./kv-block.js";
export type { KvBlockHeader, KvBlockShape } from "./kv-block.js";
export { KvBlockError } from "./kv-block-error.js";
export type { KvBlockErrorCode } from "./kv-block-error.js";
export type { KvCodec, KvSegmentShape } from "./codecs/kv-codec.js";
export {
  getCodec,
  registerCodec,
  resolveCodecId,
  codecAliases,
  checkCodecBlockSize,
  KNOWN_CODECS,
  MAX_CODEC_ID_BYTES,
} from "./codecs/codec-registry.js";
export { fp32Codec } from "./codecs/fp32-codec.js";
export { fp16Codec } from "./codecs/fp16-codec.js";
export { bf16Codec } from "./codecs/bf16-codec.js";
export { codecBackend, setCodecBackend } from "./codecs/wasm/codec-kernels.js";
export type { CodecBackend } from "./codecs/wasm/codec-kernels.js";
export { fp8E4m3Codec } from "./codecs/fp8-e4m3-codec.js";
export {
  int8SymCodec,
  int8Codec,
  int4Codec,
  kivi2Codec,
  kivi4Codec,
  affineCodec,
  kiviSpec,
  INT8_SYM_SPEC,
  INT8_SPEC,
  INT4_SPEC,
  KIVI_GROUP,
  INT4_GROUP,
} from "./codecs/affine-codecs.js";
export type { AffineCodecSpec, GroupAxis } from "./codecs/affine-spec.js";
export { codecWriteTransform } from "./codecs/codec-transform.js";
export type { CodecTransformOptions, KvHeadShape } from "./codecs/codec-transform.js";
export type { KvWriteTransform } from "./kv-write-transform.js";
export { floatToHalfBits, halfBitsToFloat, floatToHalfBitsReference, halfBitsToFloatReference } from "./codecs/half-float.js";
export { EngineError, KvImportError } from "./engine-error.js";
export type { EngineErrorCode, KvImportErrorCode } from "./engine-error.js";
export type { ModelConfig } from "./model-config.js";
export { kvDim, checkModelConfig } from "./model-config.js";
export type { LlamaModel, LlamaWeights, LlamaLayerWeights } from "./llama-model.js";
export { loadCheckpoint, parseCheckpointHeader } from "./checkpoint.js";
export { randomModel } from "./random-model.js";
export { RMS_NORM_EPS } from "./kernels/math-kernels.js";
export { ROPE_THETA } from "./kernels/rope.js";
export { Tokenizer } from "./tokenizer.js";
export type { EncodeOptions, EncodeAsyncOptions } from "./tokenizer.js";
export { IncrementalDetokenizer } from "./detokenizer.js";
export { Sampler, MAX_TOP_LOGPROBS } from "./sampler.js";
export type { SamplingOptions, SampledToken } from "./sampler.js";
export { Xoshiro128 } from "./xoshiro128.js";
export { LlamaEngine } from "./engine.js";
export type { LlamaEngineOptions, PrefillOptions, DecodeRequest } from "./engine.js";
export type { KvCacheListener } from "./kv-pool.js";
export type { AttentionObserver } from "./kernels/attention.js";
export { EngineHost } from "./engine-host.js";
export type { EngineHostOptions } from "./engine-host.js";
export type { EngineModelInfo } from "./engine-protocol.js";
export {
  POLICY_METHODS,
  NO_POLICY,
  MAX_POLICY_SPEC_CHARS,
  parsePolicySpec,
  formatPolicySpec,
  budgetTokens,
} from "./policies/policy-spec.js";
export type { PolicyMethod, PolicySpec } from "./policies/policy-spec.js";
export { PolicyError } from "./policies/policy-error.js";
export type { PolicyErrorCode } from "./policies/policy-error.js";
export { rowsToCompute } from "./policies/attention-stats.js";
export type { SelectionSummary } from "./sequence-selection.js";
export type { SelectionMeta, SelectionExport } from "./engine-selection.js";
export { selectionBlockHash, sparseLayout } from "./selection-transfer.js";
export type { SparseBlockLayout } from "./selection-transfer.js";
export { questPageHash, questPageIndex, codecSeparatesHeads } from "./quest-pages.js";
export type { QuestPageSource, QuestPagesMeta, QuestPagesExport } from "./quest-pages.js";
export type { QuestPageRef } from "./quest-page-cache.js";
export type { QuestPageFetcher } from "./engine-host.js";
export { QUEST_PAGE_FETCH_TIMEOUT_MS } from "./engine-protocol.js";
