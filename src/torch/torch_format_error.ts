/**
 * The error thrown for a torch checkpoint that cannot or must not be read.
 *
 * @module
 */

/**
 * A `.pt` file that cannot be read: not a torch zip archive, a corrupt record, a malformed
 * pickle, or a pickle that asks for something a checkpoint must not hold (any global outside
 * the allowlist, e.g. `os.system`: refused before anything runs). `record` names the archive
 * record (`"data.pkl"`, `"data/3"`, `""` for the archive itself), `offset` the byte offset in
 * that record (-1 when unknown), `global` the refused `module.name` when that is the reason.
 *
 * @example
 * ```ts
 * import { readTorchFile, TorchFormatError } from "./mod.ts";
 * try {
 *   readTorchFile(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   if (e instanceof TorchFormatError) console.log(e.record, e.offset, e.global, e.message);
 * }
 * ```
 */
export class TorchFormatError extends SyntaxError {
  /** Archive record, relative to the archive's folder (`"data.pkl"`), or `""`. */
  readonly record: string;
  /** Byte offset inside `record` where the problem was found, or -1. */
  readonly offset: number;
  /** The refused global (`"os.system"`), when a global is the reason. */
  readonly global?: string;

  /** Creates the error; `message` should read "Cannot read ...: <what is wrong>". */
  constructor(
    message: string,
    record: string,
    offset: number,
    options?: ErrorOptions & { global?: string },
  ) {
    super(message, options);
    this.name = "TorchFormatError";
    this.record = record;
    this.offset = offset;
    if (options?.global !== undefined) this.global = options.global;
  }
}
