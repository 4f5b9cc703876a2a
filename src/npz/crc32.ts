/**
 * CRC-32 (IEEE 802.3, as used by zip and by torch.save), slicing-by-8 for throughput.
 *
 * @module
 */

const TABLES: Int32Array = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Updates a running CRC-32 (start with 0) with `bytes`; returns the new CRC (unsigned). */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  const t = TABLES;
  let c = ~crc | 0;
  let i = 0;
  const n = bytes.length;
  // bytes until 4-byte alignment, then two aligned 32-bit words per step
  while (i < n && (bytes.byteOffset + i) % 4 !== 0) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  const words = LITTLE_ENDIAN ? Math.floor((n - i) / 8) * 2 : 0;
  if (words > 0) {
    const w = new Int32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let k = 0; k < words; k += 2) {
      const a = w[k] ^ c;
      const b = w[k + 1];
      c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^
        t[1024 + (a >>> 24)] ^ t[768 + (b & 0xff)] ^ t[512 + ((b >>> 8) & 0xff)] ^
        t[256 + ((b >>> 16) & 0xff)] ^ t[b >>> 24];
    }
    i += words * 4;
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `bytes` (unsigned). */
export function crc32(bytes: Uint8Array): number {
  return crc32Update(0, bytes);
}
