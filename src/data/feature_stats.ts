/**
 * `feature_stats.json` (data contract): per-feature transform, mean and std, computed on
 * training readouts only.
 *
 * @module
 */

/** The transform of one feature. */
export type FeatureTransform = "log1p-znorm" | "znorm";

/** Statistics of one feature. */
export interface FeatureStat {
  readonly transform: FeatureTransform;
  readonly mean: number;
  readonly std: number;
}

/** A validated `feature_stats.json`. */
export interface FeatureStats {
  /** Column order of `sequences`. */
  readonly feature_order: readonly string[];
  readonly counters: readonly string[];
  readonly histograms: readonly string[];
  readonly per_feature: Readonly<Record<string, FeatureStat>>;
}

const TRANSFORMS: readonly FeatureTransform[] = ["log1p-znorm", "znorm"];

function fail(what: string): never {
  throw new TypeError(`Cannot parse feature stats: ${what}`);
}

function stringList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    fail(`"${key}" must be an array of feature names, received ${describe(value)}`);
  }
  return [...value];
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : JSON.stringify(value);
}

/**
 * Validates a parsed (or string) `feature_stats.json` and returns it frozen. Every name in
 * `feature_order` needs a `per_feature` entry with a known transform, a finite mean and a
 * finite std > 0; names must be unique.
 *
 * @example
 * ```ts
 * const stats = parseFeatureStats(await (await fetch("feature_stats.json")).text());
 * stats.feature_order.length; // 105
 * ```
 */
export function parseFeatureStats(json: unknown): FeatureStats {
  let root = json;
  if (typeof json === "string") {
    try {
      root = JSON.parse(json);
    } catch (cause) {
      throw new SyntaxError(`Cannot parse feature stats: not valid JSON (${cause})`, { cause });
    }
  }
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    fail(`expected a JSON object with feature_order and per_feature, received ${describe(root)}`);
  }
  const obj = root as Record<string, unknown>;
  const order = stringList(obj.feature_order, "feature_order");
  if (order.length === 0) fail(`"feature_order" is empty`);
  const seen = new Set<string>();
  for (const name of order) {
    if (seen.has(name)) fail(`"feature_order" lists "${name}" twice`);
    seen.add(name);
  }
  const counters = obj.counters === undefined ? [] : stringList(obj.counters, "counters");
  const histograms = obj.histograms === undefined ? [] : stringList(obj.histograms, "histograms");
  const per = obj.per_feature;
  if (typeof per !== "object" || per === null || Array.isArray(per)) {
    fail(`"per_feature" must be an object keyed by feature name, received ${describe(per)}`);
  }
  const perFeature: Record<string, FeatureStat> = {};
  for (const name of order) {
    const s = (per as Record<string, unknown>)[name] as Record<string, unknown> | undefined;
    if (typeof s !== "object" || s === null) {
      fail(`"per_feature" has no entry for "${name}" (listed in feature_order)`);
    }
    const transform = s.transform as FeatureTransform;
    if (!TRANSFORMS.includes(transform)) {
      fail(
        `per_feature["${name}"].transform must be one of ${TRANSFORMS.join(", ")}, received ${
          JSON.stringify(s.transform)
        }`,
      );
    }
    const mean = s.mean, std = s.std;
    if (typeof mean !== "number" || !Number.isFinite(mean)) {
      fail(`per_feature["${name}"].mean must be a finite number, received ${JSON.stringify(mean)}`);
    }
    if (typeof std !== "number" || !Number.isFinite(std) || std <= 0) {
      fail(
        `per_feature["${name}"].std must be a finite number > 0, received ${JSON.stringify(std)}`,
      );
    }
    perFeature[name] = Object.freeze({ transform, mean, std });
  }
  return Object.freeze({
    feature_order: Object.freeze(order),
    counters: Object.freeze(counters),
    histograms: Object.freeze(histograms),
    per_feature: Object.freeze(perFeature),
  });
}
