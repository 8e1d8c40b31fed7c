// Affine integer decoder (int8, int4, KIVI): unpack eight codes per step, then min + q * scale in
// f32. Bit-identical to the JS decoders, which compute in f64 and store float32: q * scale is exact
// in f32 (at most 8 + 11 significant bits) and min + q * scale is exact in f64, so the single f32
// rounding of the sum is the same rounding. Same shape limits as affine-encode.ts.
import { halfToF32 } from "./half";

const F32_BYTES: usize = 4;

/** Eight codes of `bits` bits from the bytes at p as i16 lanes, sign-extended when symmetric. */
function unpack8(p: usize, bits: i32, symmetric: bool): v128 {
  const zero = i32x4.splat(0);
  if (bits == 8) {
    const b = v128.load64_zero(p);
    return symmetric ? i16x8.extend_low_i8x16_s(b) : i16x8.extend_low_i8x16_u(b);
  }
  let lanes: v128;
  if (bits == 4) {
    const b = v128.load32_zero(p);
    // lane j holds its byte shifted so the code sits in the top 4 bits
    lanes = i16x8.mul(
      i8x16.shuffle(b, zero, 0, 16, 0, 16, 1, 16, 1, 16, 2, 16, 2, 16, 3, 16, 3, 16),
      i16x8(4096, 256, 4096, 256, 4096, 256, 4096, 256),
    );
    return symmetric ? i16x8.shr_s(lanes, 12) : i16x8.shr_u(lanes, 12);
  }
  const b = v128.load16_lane(p, zero, 0);
  lanes = i16x8.mul(
    i8x16.shuffle(b, zero, 0, 16, 0, 16, 0, 16, 0, 16, 1, 16, 1, 16, 1, 16, 1, 16),
    i16x8(16384, 4096, 1024, 256, 16384, 4096, 1024, 256),
  );
  return symmetric ? i16x8.shr_s(lanes, 14) : i16x8.shr_u(lanes, 14);
}

/** Store eight decoded values: q * scale (+ min when asymmetric). */
function store8(out: usize, codes: v128, scaleA: v128, scaleB: v128, minA: v128, minB: v128, symmetric: bool): void {
  let a = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(codes)), scaleA);
  let b = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(codes)), scaleB);
  if (!symmetric) {
    a = f32x4.add(minA, a);
    b = f32x4.add(minB, b);
  }
  v128.store(out, a);
  v128.store(out, b, 16);
}

/** Decode one segment; `scratch` holds 8 * channels bytes. */
export function affineDecode(
  src: usize,
  dst: usize,
  tokens: i32,
  channels: i32,
  channelAxis: bool,
  groupSize: i32,
  bits: i32,
  symmetric: bool,
  scratch: usize,
): void {
  const C = <usize>channels;
  const codeBytes = (<usize>tokens * C * <usize>bits + 7) >> 3;
  const paramBytes: usize = symmetric ? 2 : 4;
  const step = <usize>bits; // bytes of eight codes
  if (!channelAxis) {
    let g: usize = 0;
    for (let t = 0; t < tokens; t++) {
      for (let c0 = 0; c0 < channels; c0 += groupSize, g++) {
        const len = min(groupSize, channels - c0);
        const at = src + codeBytes + g * paramBytes;
        const scale = f32x4.splat(halfToF32(load<u16>(at)));
        const mn = symmetric ? scale : f32x4.splat(halfToF32(load<u16>(at, 2)));
        const first = <usize>t * C + <usize>c0;
        let p = src + ((first * <usize>bits) >> 3);
        const out = dst + first * F32_BYTES;
        for (let j = 0; j < len; j += 8, p += step)
          store8(out + <usize>j * F32_BYTES, unpack8(p, bits, symmetric), scale, scale, mn, mn, symmetric);
      }
    }
    return;
  }
  const qScale = scratch;
  const qMin = scratch + C * F32_BYTES;
  for (let t0 = 0, tg: usize = 0; t0 < tokens; t0 += groupSize, tg++) {
    const t1 = min(tokens, t0 + groupSize);
    const params = src + codeBytes + tg * C * paramBytes;
    for (let c: usize = 0; c < C; c++) {
      store<f32>(qScale + c * F32_BYTES, halfToF32(load<u16>(params + c * paramBytes)));
      store<f32>(qMin + c * F32_BYTES, symmetric ? 0 : halfToF32(load<u16>(params + c * paramBytes, 2)));
    }
    for (let t = t0; t < t1; t++) {
      let p = src + ((<usize>t * C * <usize>bits) >> 3);
      const out = dst + <usize>t * C * F32_BYTES;
      for (let c: usize = 0; c < C; c += 8, p += step) {
        const f = c * F32_BYTES;
        store8(
          out + f,
          unpack8(p, bits, symmetric),
          v128.load(qScale + f),
          v128.load(qScale + f, 16),
          v128.load(qMin + f),
          v128.load(qMin + f, 16),
          symmetric,
        );
      }
    }
  }
}
