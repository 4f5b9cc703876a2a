/** Asserting the reader's errors: class, message (exact or a pattern) and fields. */
import assert from "#assert";
import { TorchFormatError } from "../../src/torch/mod.ts";

/** Asserts `fn` throws a TorchFormatError with `message` and the given fields. */
export function assertTorchFormatError(
  fn: () => unknown,
  message: string | RegExp,
  fields: { record?: string; global?: string } = {},
): TorchFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof TorchFormatError)) {
    throw new assert.AssertionError({ message: `expected a TorchFormatError, got ${caught}` });
  }
  if (typeof message === "string") assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  if (fields.record !== undefined) assert.equal(caught.record, fields.record);
  if (fields.global !== undefined) assert.equal(caught.global, fields.global);
  return caught;
}
