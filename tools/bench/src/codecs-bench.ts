// `pnpm bench codecs`: encode and decode throughput of every KV codec beside a plain memory copy of
// the same fp32 bytes in the same run, on two segment shapes: a Llama-like one (8 KV heads x 128)
// and stories260K's (4 KV heads x 8, where per-head groups are only 8 values). Throughput counts
// fp32 KV bytes in (encode) or out (decode); the best of several interleaved rounds counts. A bare
// element-by-element copy loop is measured too: the ceiling of any scalar JavaScript codec.
import { KNOWN_CODECS, getCodec, type KvCodec, type KvSegmentShape } from "@kvtier/tensor";
import type { Benchmark } from "./main.js";

/** fp32 KV bytes each timed pass processes (split into block segments). */
export const BENCH_WORKING_SET_BYTES = 8 * 1024 * 1024;
/** Timed rounds; each round times memcpy, encode and decode once, interleaved. */
export const BENCH_ROUNDS = 7;
/** Tokens per block segment (the harness's and KIVI's block size). */
export const BENCH_BLOCK_TOKENS = 32;

interface Shape {
  name: string;
  nKvHeads: number;
  headDim: number;
}

const SHAPES: Shape[] = [
  { name: "llama-like (8 kv heads x 128)", nKvHeads: 8, headDim: 128 },
  { name: "stories260K (4 kv heads x 8)", nKvHeads: 4, headDim: 8 },
];

interface Segment {
  seg: KvSegmentShape;
  values: Float32Array;
  bytes: Uint8Array;
  out: Float32Array;
}

/** Keys with a few outlier channels (as real pre-RoPE keys), values plain; deterministic. */
function makeSegments(codec: KvCodec, shape: Shape): Segment[] {
  const per = BENCH_BLOCK_TOKENS * shape.nKvHeads * shape.headDim;
  const count = Math.max(2, Math.floor(BENCH_WORKING_SET_BYTES / (per * 4)));
  let s = 12345;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const out: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 2 === 0 ? "k" : "v";
    const seg: KvSegmentShape = { kind, tokens: BENCH_BLOCK_TOKENS, nKvHeads: shape.nKvHeads, headDim: shape.headDim };
    const values = new Float32Array(per);
    for (let j = 0; j < per; j++) values[j] = rnd() * (kind === "k" && j % shape.headDim === shape.headDim - 2 ? 40 : 4);
    out.push({ seg, values, bytes: new Uint8Array(codec.bytesFor(per, seg)), out: new Float32Array(per) });
  }
  return out;
}

const seconds = (fn: () => void): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/** Best-of-rounds GB/s of memcpy, encode and decode over the same segments. */
function measure(codec: KvCodec, shape: Shape): { memcpy: number; encode: number; decode: number } {
  const segs = makeSegments(codec, shape);
  const total = segs.reduce((n, x) => n + x.values.byteLength, 0);
  const copies = segs.map((x) => new Uint8Array(x.values.byteLength));
  const views = segs.map((x) => new Uint8Array(x.values.buffer, x.values.byteOffset, x.values.byteLength));
  let memcpy = Infinity;
  let encode = Infinity;
  let decode = Infinity;
  for (let r = 0; r < BENCH_ROUNDS + 1; r++) {
    const m = seconds(() => views.forEach((v, i) => copies[i].set(v)));
    const e = seconds(() => segs.forEach((x) => codec.encode(x.values, x.bytes, x.seg)));
    const d = seconds(() => segs.forEach((x) => codec.decode(x.bytes, x.out, x.seg)));
    if (r === 0) continue; // warm-up (JIT, page faults)
    memcpy = Math.min(memcpy, m);
    encode = Math.min(encode, e);
    decode = Math.min(decode, d);
  }
  return { memcpy: total / memcpy / 1e9, encode: total / encode / 1e9, decode: total / decode / 1e9 };
}

/** GB/s of a bare element-by-element float copy over the same segments: the ceiling of scalar JavaScript codecs. */
function loopCeiling(shape: Shape): { memcpy: number; loop: number } {
  const segs = makeSegments(getCodec("fp32"), shape);
  const total = segs.reduce((n, x) => n + x.values.byteLength, 0);
  const views = segs.map((x) => new Uint8Array(x.values.buffer, x.values.byteOffset, x.values.byteLength));
  const copies = segs.map((x) => new Uint8Array(x.values.byteLength));
  const copyLoop = (src: Float32Array, dst: Float32Array): void => {
    for (let i = 0; i < src.length; i++) dst[i] = src[i];
  };
  let memcpy = Infinity;
  let loop = Infinity;
  for (let r = 0; r < BENCH_ROUNDS + 1; r++) {
    const m = seconds(() => views.forEach((v, i) => copies[i].set(v)));
    const l = seconds(() => segs.forEach((x) => copyLoop(x.values, x.out)));
    if (r === 0) continue;
    memcpy = Math.min(memcpy, m);
    loop = Math.min(loop, l);
  }
  return { memcpy: total / memcpy / 1e9, loop: total / loop / 1e9 };
}

const f = (x: number, d = 2): string => x.toFixed(d).padStart(7);

/** Run every registered codec on both shapes. */
export const codecsBench: Benchmark = async (args) => {
  const only = args.length > 0 ? new Set(args) : undefined;
  const summary: Record<string, unknown> = {};
  for (const shape of SHAPES) {
    process.stdout.write(`\n${shape.name}, ${BENCH_BLOCK_TOKENS}-token segments, ${BENCH_WORKING_SET_BYTES >> 20} MiB of fp32 KV per pass\n`);
    process.stdout.write("codec               memcpy GB/s  encode GB/s  decode GB/s  enc/memcpy  dec/memcpy\n");
    for (const id of KNOWN_CODECS) {
      if (only !== undefined && !only.has(id)) continue;
      const r = measure(getCodec(id), shape);
      process.stdout.write(`${id.padEnd(20)}${f(r.memcpy)}      ${f(r.encode)}      ${f(r.decode)}      ${f(r.encode / r.memcpy, 3)}     ${f(r.decode / r.memcpy, 3)}\n`);
      const row = {
        encode_vs_memcpy: Number((r.encode / r.memcpy).toFixed(3)),
        decode_vs_memcpy: Number((r.decode / r.memcpy).toFixed(3)),
        encode_gbps: Number(r.encode.toFixed(3)),
        decode_gbps: Number(r.decode.toFixed(3)),
        memcpy_gbps: Number(r.memcpy.toFixed(3)),
      };
      if (shape === SHAPES[0]) summary[id] = row;
      else (summary[id] as Record<string, unknown>)["stories260K"] = row;
    }
    const c = loopCeiling(shape);
    process.stdout.write(`${"(js copy loop)".padEnd(20)}${f(c.memcpy)}      ${f(c.loop)}                   ${f(c.loop / c.memcpy, 3)}\n`);
    if (shape === SHAPES[0]) summary["js_copy_loop"] = { loop_vs_memcpy: Number((c.loop / c.memcpy).toFixed(3)) };
  }
  return summary;
};
