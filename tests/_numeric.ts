/**
 * Numeric comparison helpers shared by tests.
 */

/** max |actual - expected| over max |expected|: the error relative to the largest value. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return err / scale;
}
