// `pnpm bench codecs`: encode and decode throughput of every KV codec beside a plain memory copy of
// the same fp32 bytes in the same run, on two segment shapes: a Llama-like one (8 KV heads x 128)
// and stories260K's (4 KV heads x 8, where per-head groups are only 8 values). Throughput counts
// fp32 KV bytes in (encode) or out (decode); the best of several interleaved rounds counts. A bare
// element-by-element copy loop is measured too: the ceiling of any scalar JavaScript codec.
// Codecs run their default backend (WebAssembly SIMD where available, which copies each segment
// into the module's memory and the result out again, both counted); the JS fast paths are measured
// beside them in the same run (setCodecBackend), and so are those two boundary copies alone.
import { KNOWN_CODECS, codecBackend, getCodec, resolveCodecId, setCodecBackend, type KvCodec, type KvSegmentShape } from "@kvtier/tensor";
import type { Benchmark } from "./benchmark.js";

/** fp32 KV bytes each timed pass processes (split into block segments). */
const BENCH_WORKING_SET_BYTES = 8 * 1024 * 1024;
/** Timed rounds; each round times memcpy, encode and decode once, interleaved. */
const BENCH_ROUNDS = 7;
/**
 * Untimed rounds first: JIT, page faults, and V8's tier-up of the wasm kernels from Liftoff to
 * TurboFan, which compiles in the background and on a busy machine lands a few rounds late.
 */
const BENCH_WARMUP_ROUNDS = 3;
/** Tokens per block segment (the harness's and KIVI's block size). */
const BENCH_BLOCK_TOKENS = 32;

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
  const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
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

interface Speeds {
  memcpy: number;
  encode: number;
  decode: number;
  jsEncode: number;
  jsDecode: number;
  /** One encode's and one decode's boundary copies (fp32 in + encoded out, encoded in + fp32 out) through a reused buffer. */
  boundary: number;
}

/** Best-of-rounds GB/s of memcpy, encode and decode (default backend and JS) over the same segments. */
function measure(codec: KvCodec, shape: Shape): Speeds {
  const segs = makeSegments(codec, shape);
  const total = segs.reduce((n, x) => n + x.values.byteLength, 0);
  const copies = segs.map((x) => new Uint8Array(x.values.byteLength));
  const views = segs.map((x) => new Uint8Array(x.values.buffer, x.values.byteOffset, x.values.byteLength));
  const staging = new Uint8Array(segs[0].values.byteLength + segs[0].bytes.byteLength);
  const boundaryCopies = (v: Uint8Array, x: Segment): void => {
    staging.set(v); // fp32 in (encode)
    x.bytes.set(staging.subarray(0, x.bytes.length)); // encoded out (encode)
    staging.set(x.bytes); // encoded in (decode)
    v.set(staging.subarray(0, v.length)); // fp32 out (decode)
  };
  const best = { memcpy: Infinity, encode: Infinity, decode: Infinity, jsEncode: Infinity, jsDecode: Infinity, boundary: Infinity };
  for (let r = 0; r < BENCH_ROUNDS + BENCH_WARMUP_ROUNDS; r++) {
    const m = seconds(() => views.forEach((v, i) => copies[i].set(v)));
    const e = seconds(() => segs.forEach((x) => codec.encode(x.values, x.bytes, x.seg)));
    const d = seconds(() => segs.forEach((x) => codec.decode(x.bytes, x.out, x.seg)));
    setCodecBackend("js");
    const je = seconds(() => segs.forEach((x) => codec.encode(x.values, x.bytes, x.seg)));
    const jd = seconds(() => segs.forEach((x) => codec.decode(x.bytes, x.out, x.seg)));
    setCodecBackend("wasm-simd");
    const b = seconds(() => segs.forEach((x, i) => boundaryCopies(copies[i], x)));
    if (r < BENCH_WARMUP_ROUNDS) continue;
    best.memcpy = Math.min(best.memcpy, m);
    best.encode = Math.min(best.encode, e);
    best.decode = Math.min(best.decode, d);
    best.jsEncode = Math.min(best.jsEncode, je);
    best.jsDecode = Math.min(best.jsDecode, jd);
    best.boundary = Math.min(best.boundary, b);
  }
  const gbps = (s: number): number => total / s / 1e9;
  return {
    memcpy: gbps(best.memcpy),
    encode: gbps(best.encode),
    decode: gbps(best.decode),
    jsEncode: gbps(best.jsEncode),
    jsDecode: gbps(best.jsDecode),
    boundary: gbps(best.boundary),
  };
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

/** Run every registered codec (or the ids and aliases given) on both shapes. */
export const codecsBench: Benchmark = async (args) => {
  const only = args.length > 0 ? new Set(args.map((a) => resolveCodecId(a))) : undefined;
  const summary: Record<string, unknown> = {};
  const backend = codecBackend();
  process.stdout.write(
    `codec backend: ${backend.backend}${backend.reason === undefined ? "" : ` (${backend.reason})`}; js = the JS fast paths in the same run; copies = the wasm path's boundary copies alone\n`,
  );
  summary["backend"] = backend.backend;
  for (const shape of SHAPES) {
    process.stdout.write(
      `\n${shape.name}, ${BENCH_BLOCK_TOKENS}-token segments, ${BENCH_WORKING_SET_BYTES >> 20} MiB of fp32 KV per pass\n`,
    );
    process.stdout.write(
      "codec               memcpy GB/s  encode GB/s  decode GB/s  enc/memcpy  dec/memcpy  js enc/memcpy  js dec/memcpy  copies/memcpy\n",
    );
    for (const id of KNOWN_CODECS) {
      if (only !== undefined && !only.has(id)) continue;
      const r = measure(getCodec(id), shape);
      const ratio = (x: number): number => Number((x / r.memcpy).toFixed(3));
      process.stdout.write(
        `${id.padEnd(20)}${f(r.memcpy)}      ${f(r.encode)}      ${f(r.decode)}      ${f(ratio(r.encode), 3)}     ${f(ratio(r.decode), 3)}        ${f(ratio(r.jsEncode), 3)}        ${f(ratio(r.jsDecode), 3)}        ${f(ratio(r.boundary), 3)}\n`,
      );
      const row = {
        encode_vs_memcpy: ratio(r.encode),
        decode_vs_memcpy: ratio(r.decode),
        encode_gbps: Number(r.encode.toFixed(3)),
        decode_gbps: Number(r.decode.toFixed(3)),
        memcpy_gbps: Number(r.memcpy.toFixed(3)),
        js_encode_vs_memcpy: ratio(r.jsEncode),
        js_decode_vs_memcpy: ratio(r.jsDecode),
        boundary_copies_vs_memcpy: ratio(r.boundary),
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
