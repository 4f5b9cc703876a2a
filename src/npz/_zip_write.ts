// Zip headers and end records for the writers (writeNpz, writeNpzFile).

/** The zip64 end record + locator (when needed or forced) and the end-of-directory record. */
export function zipEndRecords(
  cdOffset: number,
  cdSize: number,
  count: number,
  force: boolean,
): Uint8Array[] {
  const tail: Uint8Array[] = [];
  if (force || cdOffset + cdSize >= 0xffffffff || count >= 0xffff) {
    const rec = new Uint8Array(56 + 20);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, 0x06064b50, true);
    dv.setBigUint64(4, 44n, true);
    dv.setUint16(12, 45, true);
    dv.setUint16(14, 45, true);
    dv.setBigUint64(24, BigInt(count), true);
    dv.setBigUint64(32, BigInt(count), true);
    dv.setBigUint64(40, BigInt(cdSize), true);
    dv.setBigUint64(48, BigInt(cdOffset), true);
    dv.setUint32(56, 0x07064b50, true);
    dv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    dv.setUint32(72, 1, true);
    tail.push(rec);
  }
  const eocd = new Uint8Array(22);
  const dv = new DataView(eocd.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, Math.min(count, 0xffff), true);
  dv.setUint16(10, Math.min(count, 0xffff), true);
  dv.setUint32(12, Math.min(cdSize, 0xffffffff), true);
  dv.setUint32(16, Math.min(cdOffset, 0xffffffff), true);
  tail.push(eocd);
  return tail;
}

/** A local (`offset < 0`) or central zip header with an optional zip64 extra field. */
export function zipHeader(
  sig: number,
  name: Uint8Array,
  crc: number,
  csize: number,
  size: number,
  deflated: boolean,
  zip64: boolean,
  offset: number,
): Uint8Array {
  const isCentral = offset >= 0;
  const fixed = isCentral ? 46 : 30;
  const extra = zip64 ? (isCentral ? 28 : 20) : 0;
  const h = new Uint8Array(fixed + name.length + extra);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, sig, true);
  const version = zip64 ? 45 : 20;
  let p = 4;
  if (isCentral) dv.setUint16(p, version, true), p += 2; // version made by
  dv.setUint16(p, version, true); // version needed
  dv.setUint16(p + 2, 0x800, true); // flags: UTF-8 names
  dv.setUint16(p + 4, deflated ? 8 : 0, true);
  dv.setUint16(p + 6, 0, true); // time
  dv.setUint16(p + 8, (1980 - 1980) << 9 | 1 << 5 | 1, true); // date 1980-01-01
  dv.setUint32(p + 10, crc, true);
  dv.setUint32(p + 14, zip64 ? 0xffffffff : csize, true);
  dv.setUint32(p + 18, zip64 ? 0xffffffff : size, true);
  dv.setUint16(p + 22, name.length, true);
  dv.setUint16(p + 24, extra, true);
  if (isCentral) {
    dv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    dv.setUint32(38, 0o100644 << 16, true); // external attrs: regular file
  }
  h.set(name, fixed);
  if (zip64) {
    const e = fixed + name.length;
    dv.setUint16(e, 0x0001, true);
    dv.setUint16(e + 2, extra - 4, true);
    dv.setBigUint64(e + 4, BigInt(size), true);
    dv.setBigUint64(e + 12, BigInt(csize), true);
    if (isCentral) dv.setBigUint64(e + 20, BigInt(offset), true);
  }
  return h;
}
