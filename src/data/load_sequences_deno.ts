/**
 * Loads a sequence npz from disk, ready to train on (Deno edge of `src/data/`).
 *
 * @module
 */
import { openNpz } from "../npz/open_npz_deno.ts";
import type { NpyArray } from "../npz/npy_types.ts";
import type { FeatureStats } from "./feature_stats.ts";
import { createSequenceDataset, type SequenceDataset } from "./sequence_dataset.ts";
import { transformFeatures } from "./transform_features.ts";

/** Options of {@link loadSequenceFile}. */
export interface LoadSequenceOptions {
  readonly xKey?: string;
  readonly yKey?: string;
  readonly lengthsKey?: string;
  /** The flag that named the file, for errors (e.g. `--train-npz`). */
  readonly flag?: string;
  /** When given, the contract's transform is applied in place after loading. */
  readonly stats?: FeatureStats;
}

/**
 * Reads only the members it needs (streamed inflate, no copy of the whole archive),
 * builds the {@link SequenceDataset} and applies the feature transform in place.
 */
export async function loadSequenceFile(
  path: string,
  options: LoadSequenceOptions = {},
): Promise<SequenceDataset> {
  const flag = options.flag ?? "the sequence file";
  const source = `${flag} ${path}`;
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
    const wanted = [
      options.xKey ?? "sequences",
      options.yKey ?? "labels",
      options.lengthsKey ?? "seq_lengths",
      "mask",
    ];
    const arrays: Record<string, NpyArray> = {};
    for (const key of wanted) {
      if (!members.includes(key) || key in arrays) continue;
      if (key === "mask" && (options.lengthsKey ?? "seq_lengths") in arrays) continue;
      arrays[key] = await npz.read(key);
    }
    const data = createSequenceDataset(arrays, { ...options, source, members });
    if (options.stats) {
      const listed = options.stats.feature_order.length;
      if (listed !== data.features) {
        throw new RangeError(
          `Cannot use ${source}: it has ${data.features} features per step but the feature stats ` +
            `list ${listed} (feature_order); pass data and --feature-stats from the same pipeline`,
        );
      }
      transformFeatures(
        data.x,
        [data.size, data.steps, data.features],
        data.lengths,
        options.stats,
      );
    }
    return data;
  } finally {
    npz.close();
  }
}
