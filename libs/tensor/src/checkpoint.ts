// Loads llama2.c checkpoints (seven int32 header + float32 weights) into a LlamaModel.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { EngineError } from "./engine-error.js";
import { llamaWeightFloats, mapLlamaWeights, type LlamaModel } from "./llama-model.js";
import { checkModelConfig, type ModelConfig } from "./model-config.js";

/** Header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len (int32 each). */
const CHECKPOINT_HEADER_BYTES = 7 * 4;
/** Hex digits of the file's sha256 kept in the model id. */
const MODEL_ID_HASH_HEX = 8;
/** Longest file stem kept in the model id, in characters (the id must fit the 32-byte block field). */
const MODEL_ID_STEM_CHARS = 23;

/** Parse the seven-int32 header; a negative vocab_size means an unshared classifier. */
export function parseCheckpointHeader(bytes: Uint8Array): ModelConfig {
  if (bytes.length < CHECKPOINT_HEADER_BYTES) {
    throw new EngineError("BAD_CHECKPOINT", `checkpoint has ${bytes.length} bytes, header needs ${CHECKPOINT_HEADER_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, CHECKPOINT_HEADER_BYTES);
  const h = Array.from({ length: 7 }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = h;
  const config: ModelConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim: nHeads > 0 ? Math.floor(dim / nHeads) : 0,
    vocabSize: Math.abs(rawVocab),
    seqLen,
    sharedClassifier: rawVocab > 0,
  };
  try {
    checkModelConfig(config);
  } catch (err) {
    throw new EngineError("BAD_CHECKPOINT", `checkpoint header [${h.join(", ")}] is not a valid model`, { cause: err });
  }
  return config;
}

/** Load a llama2.c checkpoint. modelId = file stem + "@" + first 8 hex of the file's sha256. */
export function loadCheckpoint(path: string): LlamaModel {
  const file = readFileSync(path);
  const config = parseCheckpointHeader(file);
  const floats = llamaWeightFloats(config);
  const available = Math.floor((file.length - CHECKPOINT_HEADER_BYTES) / 4);
  if (available < floats) {
    throw new EngineError("BAD_CHECKPOINT", `checkpoint ${path} holds ${available} floats, its header implies ${floats}`);
  }
  // Copy into an aligned, owned buffer: Buffers may sit at any offset of a shared pool.
  const flat = new Float32Array(floats);
  new Uint8Array(flat.buffer).set(file.subarray(CHECKPOINT_HEADER_BYTES, CHECKPOINT_HEADER_BYTES + floats * 4));
  const { weights } = mapLlamaWeights(config, flat);
  const digest = createHash("sha256").update(file).digest("hex").slice(0, MODEL_ID_HASH_HEX);
  const stem = basename(path, extname(path)).slice(0, MODEL_ID_STEM_CHARS);
  return { config, weights, modelId: `${stem}@${digest}` };
}
