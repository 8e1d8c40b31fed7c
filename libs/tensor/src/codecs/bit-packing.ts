// Packs byte-per-code arrays into 2/4/8-bit little-endian bit streams (element 0 in the low bits)
// and back; the padding bits of the last byte are zero.

/** Write `n` codes of `bits` bits from `codes` into the first ceil(n * bits / 8) bytes of `dst`. */
export function packCodes(codes: Uint8Array, n: number, bits: 2 | 4 | 8, dst: Uint8Array): void {
  if (bits === 8) {
    dst.set(codes.subarray(0, n));
    return;
  }
  if (bits === 4) {
    const full = n >> 1;
    for (let k = 0, i = 0; k < full; k++, i += 2) dst[k] = codes[i] | (codes[i + 1] << 4);
    if (n & 1) dst[full] = codes[n - 1];
    return;
  }
  const full = n >> 2;
  for (let k = 0, i = 0; k < full; k++, i += 4) {
    dst[k] = codes[i] | (codes[i + 1] << 2) | (codes[i + 2] << 4) | (codes[i + 3] << 6);
  }
  const rest = n & 3;
  if (rest > 0) {
    let b = 0;
    for (let j = 0; j < rest; j++) b |= codes[full * 4 + j] << (2 * j);
    dst[full] = b;
  }
}

/** Read `n` codes of `bits` bits from `src` into `codes` (one byte each, unsigned). */
export function unpackCodes(src: Uint8Array, n: number, bits: 2 | 4 | 8, codes: Uint8Array): void {
  if (bits === 8) {
    codes.set(src.subarray(0, n));
    return;
  }
  if (bits === 4) {
    const full = n >> 1;
    for (let k = 0, i = 0; k < full; k++, i += 2) {
      const b = src[k];
      codes[i] = b & 15;
      codes[i + 1] = b >> 4;
    }
    if (n & 1) codes[n - 1] = src[full] & 15;
    return;
  }
  const full = n >> 2;
  for (let k = 0, i = 0; k < full; k++, i += 4) {
    const b = src[k];
    codes[i] = b & 3;
    codes[i + 1] = (b >> 2) & 3;
    codes[i + 2] = (b >> 4) & 3;
    codes[i + 3] = b >> 6;
  }
  for (let j = 0; j < (n & 3); j++) codes[full * 4 + j] = (src[full] >> (2 * j)) & 3;
}
