/**
 * The team's run names: `{data_version}-l{window}-{model_tag}-run{N}`.
 *
 * @module
 */

/** The name prefix; empty parts are left out (`l128-run1` without version and tag). */
export function runNamePrefix(dataVersion: string, windowSize: number, modelTag: string): string {
  if (!Number.isInteger(windowSize) || windowSize <= 0) {
    throw new RangeError(
      `Cannot build a run name: window size must be a positive integer, received ${windowSize}`,
    );
  }
  return [dataVersion, `l${windowSize}`, modelTag].filter((p) => p !== "").join("-");
}

/**
 * `<prefix>-run<N>` with N one more than the highest existing run number with that prefix.
 *
 * @example
 * ```ts
 * nextRunName("v1-l128-lstm", ["v1-l128-lstm-run2", "v1-l128-lstm-run7", "other-run9"]);
 * // "v1-l128-lstm-run8"
 * ```
 */
export function nextRunName(prefix: string, existingNames: Iterable<string>): string {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-run(\\d+)$`);
  let highest = 0;
  for (const name of existingNames) {
    const m = pattern.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  return `${prefix}-run${highest + 1}`;
}
