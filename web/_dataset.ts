/**
 * The page's dataset: npz bytes (picked files or the in-page sample) turned into the
 * transformed train/val `SequenceDataset`s the training loop takes, with the same core
 * functions the CLI uses.
 *
 * @module
 */
import { classCounts } from "../src/data/class_weights.ts";
import { type FeatureStats, parseFeatureStats } from "../src/data/feature_stats.ts";
import { COMPONENT_X_FEATURE_STATS, generateSample } from "../src/data/sample.ts";
import { createSequenceDataset, type SequenceDataset } from "../src/data/sequence_dataset.ts";
import { transformFeatures } from "../src/data/transform_features.ts";
import type { Task } from "../src/metrics/task.ts";
import { resolveTaskData } from "../src/train/task_data.ts";
import { readNpz } from "../src/npz/read_npz.ts";
import { writeNpz } from "../src/npz/write_npz.ts";

/** Train and val data ready for `train()`, plus what the summary and downloads need. */
export interface DemoDataset {
  readonly train: SequenceDataset;
  readonly val: SequenceDataset;
  /** The task of the data's K classes (Component X's for 5, else classes 0..K-1). */
  readonly task: Task;
  readonly featureStats: FeatureStats;
  /** `feature_stats.json` as used (copied into the download). */
  readonly featureStatsJson: string;
  /** Where the data came from, in words. */
  readonly source: string;
  /** Where the feature stats came from, in words. */
  readonly statsSource: string;
  /** The raw (untransformed) npz files, for the download (`data/*.npz`). */
  readonly npzFiles: Readonly<Record<string, Uint8Array>>;
}

/** Options of {@link generateDemoDataset}: `generateSample`'s. */
export interface DemoSampleOptions {
  readonly trainRows: number;
  readonly valRows: number;
  readonly steps: number;
  readonly seed: number;
}

function prepare(
  bytes: Uint8Array,
  name: string,
  stats: FeatureStats,
): SequenceDataset {
  const arrays = readNpz(bytes);
  const data = createSequenceDataset(arrays, { source: name });
  transformFeatures(data.x, [data.size, data.steps, data.features], data.lengths, stats);
  return data;
}

/** Generates the sample in the page (seeded: the same options give the same bytes). */
export function generateDemoDataset(options: DemoSampleOptions): DemoDataset {
  const sample = generateSample(options);
  // Encode the raw arrays before the in-place transform touches `sequences`.
  const trainNpz = writeNpz(sample.train, { compress: true });
  const valNpz = writeNpz(sample.val, { compress: true });
  const featureStatsJson = JSON.stringify(sample.featureStats, null, 2);
  const featureStats = parseFeatureStats(featureStatsJson);
  return {
    ...resolveTaskData({
      train: prepare(trainNpz, "the generated train sample", featureStats),
      val: prepare(valNpz, "the generated val sample", featureStats),
    }),
    featureStats,
    featureStatsJson,
    source: `generated sample (train ${options.trainRows} rows, val ${options.valRows} rows, ` +
      `${options.steps} steps, seed ${options.seed})`,
    statsSource: "recomputed on the generated training readouts",
    npzFiles: { "data/train_sequences.npz": trainNpz, "data/val_sequences.npz": valNpz },
  };
}

/**
 * Loads picked files. Without a `feature_stats.json` the real Component X statistics are
 * used (and said so), which fits only 105-feature data.
 */
export function loadDemoDataset(
  train: { name: string; bytes: Uint8Array },
  val: { name: string; bytes: Uint8Array },
  stats?: { name: string; text: string },
): DemoDataset {
  const featureStatsJson = stats?.text ?? JSON.stringify(COMPONENT_X_FEATURE_STATS, null, 2);
  let featureStats: FeatureStats;
  try {
    featureStats = parseFeatureStats(featureStatsJson);
  } catch (cause) {
    throw new TypeError(
      `Cannot load ${stats?.name ?? "the built-in feature stats"}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const trainData = prepare(train.bytes, train.name, featureStats);
  const valData = prepare(val.bytes, val.name, featureStats);
  if (valData.features !== trainData.features) {
    throw new RangeError(
      `Cannot use ${val.name} with ${train.name}: val has ${valData.features} features per ` +
        `step, train has ${trainData.features}; pick files from the same pipeline`,
    );
  }
  return {
    ...resolveTaskData({ train: trainData, val: valData }),
    featureStats,
    featureStatsJson,
    source: `files ${train.name} and ${val.name}`,
    statsSource: stats ? stats.name : "the real Component X statistics (no file picked)",
    npzFiles: {},
  };
}

/** One split's summary line values. */
export interface SplitSummary {
  readonly rows: number;
  readonly steps: number;
  readonly features: number;
  readonly classCounts: number[];
  readonly meanLength: number;
}

/** Rows, window, features, class counts and mean valid length of a split. */
export function summarizeSplit(data: SequenceDataset): SplitSummary {
  let total = 0;
  for (const length of data.lengths) total += length;
  return {
    rows: data.size,
    steps: data.steps,
    features: data.features,
    classCounts: classCounts(data.labels, data.numClasses),
    meanLength: data.size > 0 ? total / data.size : 0,
  };
}
