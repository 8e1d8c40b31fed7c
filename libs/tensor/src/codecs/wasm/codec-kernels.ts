// Loads the WebAssembly SIMD codec kernels (libs/tensor/wasm, compiled by `pnpm build`) and owns
// their linear memory. One instance per thread, created on first use; when the module is missing
// or the runtime lacks WebAssembly SIMD (WebAssembly.validate fails), every codec keeps its
// JavaScript fast path. Data crosses the boundary by one typed-array copy each way.
import { readFileSync } from "node:fs";
import { HOST_IS_LITTLE_ENDIAN } from "../endianness.js";

/** The compiled kernels, relative to this file in src/ and in dist/ alike. */
const WASM_URL = new URL("../../../wasm/build/kv-codecs.wasm", import.meta.url);
const WASM_PAGE_BYTES = 64 * 1024;
/** Alignment of every region handed out (one v128). */
const REGION_ALIGN = 16;

/** The parts of the WebAssembly JS API used here (the project's lib settings do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Which implementation the codecs run. */
export type CodecBackend = "wasm-simd" | "js";

/** The exports of kv-codecs.wasm (offsets are byte offsets into its memory). */
interface KernelExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  fp16Encode(src: number, dst: number, n: number): void;
  fp16Decode(src: number, dst: number, n: number): void;
  bf16Encode(src: number, dst: number, n: number): void;
  bf16Decode(src: number, dst: number, n: number): void;
  affineEncode(
    src: number,
    dst: number,
    tokens: number,
    channels: number,
    channelAxis: number,
    groupSize: number,
    bits: number,
    symmetric: number,
    scratch: number,
  ): void;
  affineDecode(
    src: number,
    dst: number,
    tokens: number,
    channels: number,
    channelAxis: number,
    groupSize: number,
    bits: number,
    symmetric: number,
    scratch: number,
  ): void;
}

/** The loaded kernels with views on their memory (renewed whenever the memory grows). */
export interface CodecKernels {
  readonly fn: KernelExports;
  /** First free byte, 16-aligned. */
  readonly base: number;
  u8: Uint8Array;
  f32: Float32Array;
}

let loaded: CodecKernels | null | undefined;
let unavailableReason = "";
let preferred: CodecBackend = "wasm-simd";

function load(): CodecKernels | null {
  if (!HOST_IS_LITTLE_ENDIAN) {
    // typed-array views of the (little-endian) module memory would read host-order values
    unavailableReason = "big-endian host";
    return null;
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(WASM_URL);
  } catch (err) {
    unavailableReason = `${WASM_URL.pathname} not readable (run pnpm build): ${err instanceof Error ? err.message : String(err)}`;
    return null;
  }
  if (wasmApi === undefined) {
    unavailableReason = "no WebAssembly in this runtime";
    return null;
  }
  if (!wasmApi.validate(bytes)) {
    unavailableReason = "this runtime does not validate the module (no WebAssembly SIMD)";
    return null;
  }
  const fn = new wasmApi.Instance(new wasmApi.Module(bytes), {}).exports as unknown as KernelExports;
  const base = Math.ceil(fn.heapBase() / REGION_ALIGN) * REGION_ALIGN;
  return { fn, base, u8: new Uint8Array(fn.memory.buffer), f32: new Float32Array(fn.memory.buffer) };
}

/**
 * The kernels with at least `bytes` free from `base`, or null when the JS path must run (not
 * available, or the JS backend was chosen).
 */
export function codecKernels(bytes: number): CodecKernels | null {
  if (preferred === "js") return null;
  if (loaded === undefined) loaded = load();
  if (loaded === null) return null;
  const k = loaded;
  const need = k.base + bytes;
  if (need > k.fn.memory.buffer.byteLength) {
    k.fn.memory.grow(Math.ceil((need - k.fn.memory.buffer.byteLength) / WASM_PAGE_BYTES));
  }
  if (k.u8.buffer !== k.fn.memory.buffer) {
    k.u8 = new Uint8Array(k.fn.memory.buffer);
    k.f32 = new Float32Array(k.fn.memory.buffer);
  }
  return k;
}

/** `bytes` rounded up to the region alignment. */
export function alignRegion(bytes: number): number {
  return Math.ceil(bytes / REGION_ALIGN) * REGION_ALIGN;
}

/**
 * Choose the implementation for the codecs of this thread: `wasm-simd` (the default; falls back to
 * `js` when unavailable) or `js`. For benchmarks and tests that compare the two.
 */
export function setCodecBackend(backend: CodecBackend): void {
  if (backend !== "wasm-simd" && backend !== "js") throw new Error(`backend must be "wasm-simd" or "js", got "${String(backend)}"`);
  preferred = backend;
}

/** The implementation the codecs run now, and why WebAssembly is not used when it is not. */
export function codecBackend(): { backend: CodecBackend; reason?: string } {
  if (preferred === "js") return { backend: "js", reason: "chosen by setCodecBackend" };
  if (loaded === undefined) loaded = load();
  return loaded === null ? { backend: "js", reason: unavailableReason } : { backend: "wasm-simd" };
}
