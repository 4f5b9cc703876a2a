/**
 * The error thrown for a malformed or unsupported `.npy` / `.npz` file.
 *
 * @module
 */

/**
 * A `.npy` / `.npz` file that cannot be read: bad magic, truncation, CRC mismatch,
 * unsupported dtype, a member over the size limit, ... `member` names the archive member
 * (`""` for a bare `.npy` or the archive itself) and `offset` the byte offset in the
 * input where the problem was found (-1 when unknown).
 *
 * @example
 * ```ts
 * import { NpzFormatError, readNpz } from "./mod.ts";
 * try {
 *   readNpz(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   if (e instanceof NpzFormatError) console.log(e.member, e.offset, e.message);
 * }
 * ```
 */
export class NpzFormatError extends SyntaxError {
  /** Archive member (e.g. `"sequences.npy"`), or `""` for the archive / a bare `.npy`. */
  readonly member: string;
  /** Byte offset in the input where the problem was found, or -1. */
  readonly offset: number;

  /** Creates the error; `message` should read "Cannot read ...: <what is wrong>". */
  constructor(message: string, member: string, offset: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "NpzFormatError";
    this.member = member;
    this.offset = offset;
  }
}
