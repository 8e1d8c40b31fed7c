// The engine's kvTransform hook: unset or identity it changes nothing bit for bit; a codec applied
// as positions are written acts on exactly what a stored block would hold; block transforms give
// the same logits whatever the prefill chunking or decode steps.
import { describe, expect, it } from 'vitest';
import { codecWriteTransform } from '../src/codecs/codec-transform.js';
import { decodeKvBlock, encodeKvBlock } from '../src/kv-block.js';
import { LlamaEngine } from '../src/engine.js';
import type { KvWriteTransform } from '../src/kv-write-transform.js';
import { fakeHash, stories, storyTokens } from './engine-fixtures.js';

const BLOCK = 32;

function engine(kvTransform?: KvWriteTransform): LlamaEngine {
  return new LlamaEngine(stories().model, { blockSize: BLOCK, capacityBlocks: 8, kvTransform });
}

function logitsOf(e: LlamaEngine, tokens: number[], chunkTokens?: number): Float32Array[] {
  e.openSequence('s');
  const out = e.prefillWithLogits('s', tokens, { chunkTokens });
  return out;
}

function identity(granularity: 'token' | 'block', calls: number[]): KvWriteTransform {
  return { granularity, apply: (_l, _k, _v, tokens) => void calls.push(tokens) };
}

describe('engine kvTransform hook', () => {
  const tokens = storyTokens(70);

  it('identity transforms leave the logits bit-identical, and are called once per token / per full block', () => {
    const plain = logitsOf(engine(), tokens);
    const tokenCalls: number[] = [];
    const blockCalls: number[] = [];
    expect(logitsOf(engine(identity('token', tokenCalls)), tokens)).toEqual(plain);
    expect(logitsOf(engine(identity('block', blockCalls)), tokens)).toEqual(plain);
    const layers = stories().model.config.nLayers;
    expect(tokenCalls).toEqual(new Array(70 * layers).fill(1));
    expect(blockCalls).toEqual(new Array(2 * layers).fill(BLOCK)); // 70 tokens: 2 full blocks, the tail untouched
  });

  it('a block codec rewrites a full block exactly as its stored block would decode', () => {
    const { config, modelId } = stories().model;
    const plain = engine();
    plain.openSequence('s');
    plain.prefill('s', tokens);
    const stored = plain.exportBlocks('s', 0, 1, 'fp32', [fakeHash('b0')])[0];
    const { k, v } = decodeKvBlock(stored);
    const kivi = decodeKvBlock(encodeKvBlock({ ...decodeKvBlock(stored).header, modelId, codec: 'kivi2-g32-f16' }, k, v));

    const coded = engine(codecWriteTransform('kivi2-g32-f16', config));
    coded.openSequence('s');
    coded.prefill('s', tokens);
    const rewritten = decodeKvBlock(coded.exportBlocks('s', 0, 1, 'fp32', [fakeHash('b0')])[0]);
    // Layer 0's K/V depend on the tokens only. Deeper layers of the block's last token differ:
    // that token attends to its block as rewritten (a block is compressed as soon as it is full).
    const layer0 = BLOCK * config.nKvHeads * config.headDim;
    expect(rewritten.k.subarray(0, layer0)).toEqual(kivi.k.subarray(0, layer0));
    expect(rewritten.v.subarray(0, layer0)).toEqual(kivi.v.subarray(0, layer0));
    expect(rewritten.k.subarray(0, layer0)).not.toEqual(k.subarray(0, layer0));
  });

  it('with a block transform, chunked prefill equals token-by-token decode', () => {
    const transform = (): KvWriteTransform => codecWriteTransform('int8-kc-vt32-f16', stories().model.config);
    const chunked = logitsOf(engine(transform()), tokens, 64);
    const e = engine(transform());
    e.openSequence('s');
    const stepped = [e.prefill('s', tokens.slice(0, 1))];
    for (const t of tokens.slice(1)) stepped.push(e.decodeStep([{ seqId: 's', token: t }])[0]);
    expect(stepped).toEqual(chunked);
    expect(chunked).not.toEqual(logitsOf(engine(), tokens));
  });

  it('a token codec (fp16) changes the logits a little', () => {
    const plain = logitsOf(engine(), tokens);
    const coded = logitsOf(engine(codecWriteTransform('fp16', stories().model.config)), tokens);
    let maxDiff = 0;
    plain.forEach((row, i) => row.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - coded[i][j])))));
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(0.05);
  });
});
