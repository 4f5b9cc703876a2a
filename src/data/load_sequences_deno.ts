/**
 * Loads a sequence npz from disk, ready to train on (Deno edge of `src/data/`).
 *
 * @module
 */
import { openNpz } from "../npz/open_npz_deno.ts";
import type { NpyArray } from "../npz/npy_types.ts";
import type { FeatureStats } from "./feature_stats.ts";
import {
  createSequenceDataset,
  DEFAULT_SEQUENCE_KEYS,
  type SequenceDataset,
  type SequenceDatasetOptions,
} from "./sequence_dataset.ts";
import { NonFiniteFeatureError, transformFeatures } from "./transform_features.ts";

/** Options of {@link loadSequenceFile}. */
export interface LoadSequenceOptions extends
  Pick<
    SequenceDatasetOptions,
    "xKey" | "yKey" | "lengthsKey" | "numClasses" | "numClassesSource" | "idsKey" | "keyLabels"
  > {
  /**
   * How errors name the file, before its path (default "the sequence file"); the CLI passes
   * its flag (e.g. `--train-npz`).
   */
  readonly label?: string;
  /** When given, the contract's transform is applied in place after loading. */
  readonly stats?: FeatureStats;
  /** How errors name the feature stats (default "feature stats"); the CLI passes its flag. */
  readonly statsLabel?: string;
}

/**
 * Reads only the members it needs (streamed inflate, no copy of the whole archive),
 * builds the {@link SequenceDataset} and applies the feature transform in place.
 */
export async function loadSequenceFile(
  path: string,
  options: LoadSequenceOptions = {},
): Promise<SequenceDataset> {
  const source = `${options.label ?? "the sequence file"} ${path}`;
  let npz;
  try {
    npz = await openNpz(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot read ${source}: file not found; create a small sample with \`deno task sample\` ` +
          `or pass the path of a numpy .npz file`,
        { cause },
      );
    }
    throw new Error(`Cannot read ${source}: ${(cause as Error).message}`, { cause });
  }
  try {
    const members = npz.members.map((m) => m.name);
    const lengthsKey = options.lengthsKey ?? DEFAULT_SEQUENCE_KEYS.lengthsKey;
    const wanted = [
      options.xKey ?? DEFAULT_SEQUENCE_KEYS.xKey,
      options.yKey ?? DEFAULT_SEQUENCE_KEYS.yKey,
      lengthsKey,
      "mask",
      ...(options.idsKey === undefined ? [] : [options.idsKey]),
    ];
    const arrays: Record<string, NpyArray> = {};
    for (const key of wanted) {
      if (!members.includes(key) || key in arrays) continue;
      if (key === "mask" && lengthsKey in arrays) continue;
      arrays[key] = await npz.read(key);
    }
    const data = createSequenceDataset(arrays, { ...options, source, members });
    const xKey = options.xKey ?? DEFAULT_SEQUENCE_KEYS.xKey;
    if (data.size === 0) {
      throw new RangeError(
        `Cannot use ${source}: "${xKey}" has 0 rows (shape (0, ${data.steps}, ${data.features})); ` +
          "pass a file with at least one window",
      );
    }
    if (options.stats) {
      const listed = options.stats.feature_order.length;
      if (listed !== data.features) {
        throw new RangeError(
          `Cannot use ${source}: it has ${data.features} features per step but the feature stats ` +
            `list ${listed} (feature_order); pass data and ${
              options.statsLabel ?? "feature stats"
            } from the same pipeline`,
        );
      }
      try {
        transformFeatures(
          data.x,
          [data.size, data.steps, data.features],
          data.lengths,
          options.stats,
        );
      } catch (cause) {
        if (!(cause instanceof NonFiniteFeatureError)) throw cause;
        throw new RangeError(
          `Cannot use ${source}: "${xKey}" ${cause.message}; only NaN is allowed (the ` +
            "transform imputes it): replace infinities upstream or mark those steps missing (NaN)",
          { cause },
        );
      }
    }
    return data;
  } finally {
    npz.close();
  }
}
