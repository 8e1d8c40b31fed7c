// fp16 and bf16 encode/decode over arrays in linear memory, eight values per step.
import { f32BitsToHalf, f32x4ToHalf, halfToF32, halfToF32x4 } from "./half";

const F32_BYTES: usize = 4;
const HALF_BYTES: usize = 2;

/** n float32 at src -> n fp16 (little-endian) at dst. */
export function fp16Encode(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + <usize>i * F32_BYTES;
    const lo = f32x4ToHalf(v128.load(p));
    const hi = f32x4ToHalf(v128.load(p, 16));
    v128.store(dst + <usize>i * HALF_BYTES, i16x8.narrow_i32x4_u(lo, hi));
  }
  for (; i < n; i++) store<u16>(dst + <usize>i * HALF_BYTES, <u16>f32BitsToHalf(load<u32>(src + <usize>i * F32_BYTES)));
}

/** n fp16 at src -> n float32 at dst. */
export function fp16Decode(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + <usize>i * HALF_BYTES);
    const p = dst + <usize>i * F32_BYTES;
    v128.store(p, halfToF32x4(i32x4.extend_low_i16x8_u(h)));
    v128.store(p, halfToF32x4(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i < n; i++) store<f32>(dst + <usize>i * F32_BYTES, halfToF32(load<u16>(src + <usize>i * HALF_BYTES)));
}

/** Float32 bits -> bf16 bits of four lanes: NaN to the quiet NaN of its sign, else round to nearest even. */
function f32x4ToBf16(u: v128): v128 {
  const top = i32x4.shr_u(u, 16);
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(u, i32x4.splat(0x7fff)), v128.and(top, i32x4.splat(1))), 16);
  const qnan = v128.or(v128.and(top, i32x4.splat(0x8000)), i32x4.splat(0x7fc0));
  return v128.bitselect(qnan, rounded, i32x4.gt_s(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000)));
}

function f32BitsToBf16(u: u32): u32 {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >> 16) & 0x8000) | 0x7fc0;
  return ((u + 0x7fff + ((u >> 16) & 1)) >> 16) & 0xffff;
}

/** n float32 at src -> n bf16 (little-endian) at dst. */
export function bf16Encode(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + <usize>i * F32_BYTES;
    v128.store(dst + <usize>i * HALF_BYTES, i16x8.narrow_i32x4_u(f32x4ToBf16(v128.load(p)), f32x4ToBf16(v128.load(p, 16))));
  }
  for (; i < n; i++) store<u16>(dst + <usize>i * HALF_BYTES, <u16>f32BitsToBf16(load<u32>(src + <usize>i * F32_BYTES)));
}

/** n bf16 at src -> n float32 at dst (exact: the bf16 bits are the float's top half). */
export function bf16Decode(src: usize, dst: usize, n: i32): void {
  let i = 0;
  const zero = i32x4.splat(0);
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + <usize>i * HALF_BYTES);
    const p = dst + <usize>i * F32_BYTES;
    v128.store(p, i8x16.shuffle(zero, h, 0, 0, 16, 17, 0, 0, 18, 19, 0, 0, 20, 21, 0, 0, 22, 23));
    v128.store(p, i8x16.shuffle(zero, h, 0, 0, 24, 25, 0, 0, 26, 27, 0, 0, 28, 29, 0, 0, 30, 31), 16);
  }
  for (; i < n; i++) store<u32>(dst + <usize>i * F32_BYTES, (<u32>load<u16>(src + <usize>i * HALF_BYTES)) << 16);
}
