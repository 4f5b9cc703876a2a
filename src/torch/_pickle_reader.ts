// The byte reader under the restricted unpickler: a cursor over one pickle record that reads
// lengths, little-endian integers and newline-terminated names, each bounds-checked, and fails
// with a TorchFormatError naming the record and the byte of the opcode being read.
import { TorchFormatError } from "./torch_format_error.ts";

/** Stops the read: throws a {@link TorchFormatError} at the opcode being read. */
export type Fail = (what: string, extra?: { global?: string; cause?: unknown }) => never;

/** Decodes the pickle's UTF-8 strings. */
export const utf8 = new TextDecoder("utf-8");

/**
 * A cursor over `bytes`, the pickle record named `record` in messages. Every read is
 * bounds-checked; `fail` names the byte where the current opcode (`startOpcode`) began.
 */
export function pickleReader(bytes: Uint8Array, record: string) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let opAt = 0;
  const fail = (what: string, extra?: { global?: string; cause?: unknown }): never => {
    throw new TorchFormatError(
      `Cannot read torch pickle ${record}: ${what} (at byte ${opAt})`,
      record,
      opAt,
      extra,
    );
  };
  /** Skips `n` bytes and returns where they start. */
  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) {
      fail(`it ends early: ${n} more bytes needed, ${bytes.length - pos} left (truncated file?)`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  /** The next `n` bytes (a view, not a copy). */
  const take = (n: number): Uint8Array => bytes.subarray(need(n), pos);
  /** A little-endian uint32. */
  const u32 = (): number => dv.getUint32(need(4), true);
  /** A little-endian uint64 length, at most the pickle's size. */
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) fail(`a length of ${v} bytes is larger than the pickle`);
    return Number(v);
  };
  /** A newline-terminated name (GLOBAL's module and name). */
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1024) fail("a GLOBAL name is not terminated by a newline");
    const s = utf8.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  return {
    dv,
    fail,
    /** Marks where the next opcode starts: the byte that messages name. */
    startOpcode: () => {
      opAt = pos;
    },
    need,
    take,
    u32,
    u64,
    line,
  };
}

/** Decodes a little-endian two's-complement integer (pickle's LONG1 and LONG4). */
export function decodeLong(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v;
}
