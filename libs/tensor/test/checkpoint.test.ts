import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCheckpoint } from "../src/checkpoint.js";
import { LlamaEngine } from "../src/engine.js";
import { EngineError } from "../src/engine-error.js";
import { randomModel } from "../src/random-model.js";
import { checkpointPath } from "./model-dir.js";

const dir = mkdtempSync(join(tmpdir(), "kvtier-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write a llama2.c file whose i-th weight float is i, so every tensor's start reveals its file offset. */
function writeIndexCheckpoint(name: string, header: number[], floats: number): string {
  const bytes = new Uint8Array(28 + floats * 4);
  const view = new DataView(bytes.buffer);
  header.forEach((v, i) => view.setInt32(i * 4, v, true));
  for (let i = 0; i < floats; i++) view.setFloat32(28 + i * 4, i, true);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("loadCheckpoint", () => {
  it("reads stories260K with its documented shape and a sha256-derived model id", () => {
    const model = loadCheckpoint(checkpointPath());
    expect(model.config).toEqual({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      headDim: 8,
      vocabSize: 512,
      seqLen: 512,
      sharedClassifier: true,
    });
    const sha = createHash("sha256").update(readFileSync(checkpointPath())).digest("hex");
    expect(model.modelId).toBe(`stories260K@${sha.slice(0, 8)}`);
    expect(model.weights.classifier).toBe(model.weights.tokenEmbedding);
  });

  it("maps tensors in run.c memory_map_weights order, skipping the RoPE tables, with an unshared classifier", () => {
    const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = [8, 12, 2, 2, 1, 10, 6];
    const hd = dim / heads;
    const kvd = kvHeads * hd;
    const sizes = {
      emb: vocab * dim,
      rmsAtt: layers * dim,
      wq: layers * dim * dim,
      wk: layers * dim * kvd,
      wv: layers * dim * kvd,
      wo: layers * dim * dim,
      rmsFfn: layers * dim,
      w1: layers * dim * hidden,
      w2: layers * hidden * dim,
      w3: layers * dim * hidden,
      rmsFinal: dim,
      rope: seqLen * hd,
    };
    const start: Record<string, number> = {};
    let at = 0;
    for (const [name, n] of Object.entries(sizes)) {
      start[name] = at;
      at += n;
    }
    const path = writeIndexCheckpoint("tiny.bin", [dim, hidden, layers, heads, kvHeads, -vocab, seqLen], at + vocab * dim);
    const { config, weights } = loadCheckpoint(path);
    expect(config.sharedClassifier).toBe(false);
    expect(config.vocabSize).toBe(vocab);
    expect(weights.tokenEmbedding[0]).toBe(start.emb);
    expect(weights.layers[1].rmsAtt[0]).toBe(start.rmsAtt + dim);
    expect(weights.layers[1].wq[0]).toBe(start.wq + dim * dim);
    expect(weights.layers[1].wk[0]).toBe(start.wk + dim * kvd);
    expect(weights.layers[0].wv[0]).toBe(start.wv);
    expect(weights.layers[1].wo[0]).toBe(start.wo + dim * dim);
    expect(weights.layers[1].rmsFfn[0]).toBe(start.rmsFfn + dim);
    expect(weights.layers[1].w1[0]).toBe(start.w1 + dim * hidden);
    expect(weights.layers[1].w2[0]).toBe(start.w2 + hidden * dim);
    expect(weights.layers[1].w3[0]).toBe(start.w3 + dim * hidden);
    expect(weights.rmsFinal[0]).toBe(start.rmsFinal);
    expect(weights.classifier[0]).toBe(at);
    expect(weights.classifier.length).toBe(vocab * dim);
  });

  it("rejects a truncated or nonsensical file", () => {
    const truncated = writeIndexCheckpoint("short.bin", [8, 12, 2, 2, 1, 10, 6], 100);
    expect(() => loadCheckpoint(truncated)).toThrow(expect.objectContaining({ code: "BAD_CHECKPOINT" }));
    const nonsense = writeIndexCheckpoint("nonsense.bin", [8, 12, 2, 3, 1, 10, 6], 10);
    expect(() => loadCheckpoint(nonsense)).toThrow(EngineError);
  });
});

describe("randomModel", () => {
  const config = {
    dim: 36,
    hiddenDim: 50,
    nLayers: 2,
    nHeads: 6,
    nKvHeads: 3,
    headDim: 6,
    vocabSize: 40,
    seqLen: 64,
    sharedClassifier: false,
  };

  it("is deterministic per seed and names itself after its shape and seed", () => {
    const a = randomModel(config, 5);
    expect(randomModel(config, 5).weights.layers[1].w2).toEqual(a.weights.layers[1].w2);
    expect(randomModel(config, 6).weights.layers[1].w2).not.toEqual(a.weights.layers[1].w2);
    expect(a.modelId).toBe("random-d36l2h6k3@5");
  });

  it("odd shapes (headDim 6, lane remainders) keep prefill, chunking and decode bit-identical", () => {
    const model = randomModel(config, 9);
    const tokens = Array.from({ length: 21 }, (_, i) => (i * 7 + 3) % config.vocabSize);
    const ref = new LlamaEngine(model, { blockSize: 4, capacityBlocks: 8 });
    ref.openSequence("r");
    const expected = tokens.map((token) => ref.decodeStep([{ seqId: "r", token }])[0]);
    const engine = new LlamaEngine(model, { blockSize: 4, capacityBlocks: 8 });
    engine.openSequence("s");
    expect(engine.prefillWithLogits("s", tokens, { chunkTokens: 5 })).toEqual(expected);
  });
});
