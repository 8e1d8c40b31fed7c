// fp32 codec: raw little-endian float32, lossless; the reference every lossy codec is measured against.
import { HOST_IS_LITTLE_ENDIAN } from "./endianness.js";
import type { KvCodec } from "./kv-codec.js";

const FP32_BYTES = 4;

/** Lossless raw little-endian float32 codec, id "fp32". */
export const fp32Codec: KvCodec = {
  id: "fp32",
  lossless: true,
  bytesFor(values: number): number {
    return values * FP32_BYTES;
  },
  encode(src: Float32Array, dst: Uint8Array): void {
    if (HOST_IS_LITTLE_ENDIAN) {
      // A byte copy works whatever dst's alignment is (network frames are often unaligned).
      dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
      return;
    }
    const view = new DataView(dst.buffer, dst.byteOffset, src.length * FP32_BYTES);
    for (let i = 0; i < src.length; i++) view.setFloat32(i * FP32_BYTES, src[i], true);
  },
  decode(src: Uint8Array, dst: Float32Array): void {
    if (HOST_IS_LITTLE_ENDIAN) {
      new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(src.subarray(0, dst.byteLength));
      return;
    }
    const view = new DataView(src.buffer, src.byteOffset, dst.length * FP32_BYTES);
    for (let i = 0; i < dst.length; i++) dst[i] = view.getFloat32(i * FP32_BYTES, true);
  },
};
