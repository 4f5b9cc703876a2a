/**
 * Deno edge of the jobs' MLflow data sets: the facts of a data file (absolute path, SHA-256,
 * size, the `.npz` members' dtypes and shapes from their headers) for
 * {@link sequenceDatasetInput} and {@link predictionsDatasetInput}.
 *
 * @module
 */
import { classCounts } from "../data/class_weights.ts";
import type { SequenceDataset, SequenceKeys } from "../data/sequence_dataset.ts";
import { openNpz } from "../npz/open_npz_deno.ts";
import type { PredictionsTable } from "../report/predictions_csv.ts";
import { absolutePath } from "../tracking/file_system_deno.ts";
import type { MlflowDatasetInput } from "../tracking/tracking_store.ts";
import {
  type DatasetContext,
  predictionsDatasetInput,
  sequenceDatasetInput,
} from "./dataset_inputs.ts";

/** SHA-256 of a file's bytes, hex. */
export async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The data set input of a sequence file the job loaded as `data` (the SHA-256 computed
 * unless the job has it already).
 */
export async function sequenceFileInput(
  path: string,
  keys: SequenceKeys,
  data: SequenceDataset,
  context: DatasetContext,
  sha256?: string,
): Promise<MlflowDatasetInput> {
  using npz = await openNpz(path);
  return sequenceDatasetInput({
    path: absolutePath(path),
    sha256: sha256 ?? await sha256File(path),
    bytes: (await Deno.stat(path)).size,
    members: npz.members.map((m) => ({ name: m.name, dtype: m.dtype, shape: m.shape })),
    keys,
    rows: data.size,
    window: data.steps,
    features: data.features,
    classCounts: classCounts(data.labels, data.numClasses),
  }, context);
}

/** The data set input of an evaluated `predictions.csv` (`text` its contents, `table` parsed). */
export async function predictionsFileInput(
  path: string,
  text: string,
  table: PredictionsTable,
  context: DatasetContext,
): Promise<MlflowDatasetInput> {
  const numClasses = table.probabilities[0]?.length ?? 0;
  return predictionsDatasetInput({
    path: absolutePath(path),
    sha256: await sha256File(path),
    bytes: (await Deno.stat(path)).size,
    columns: text.split(/\r?\n/, 1)[0].split(",").map((c) => c.trim()),
    rows: table.labels.length,
    classCounts: classCounts(table.labels, numClasses),
  }, context);
}
