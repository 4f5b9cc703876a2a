/**
 * The MLflow data sets of a job: a sequence `.npz` (or an evaluated `predictions.csv`)
 * described as `mlflow.entities.Dataset` is: name = the file's stem, digest = its SHA-256
 * (the first 36 hex digits: MLflow's limit; the whole one is in the profile), source = its
 * path, schema = its members' dtypes and shapes in MLflow's `mlflow_tensorspec` layout (what
 * `mlflow.data.from_numpy` writes) or columns in `mlflow_colspec`, profile = the numbers a
 * reader wants (rows, window, features, class counts). Facts in, data set out: the Deno
 * edge (`dataset_inputs_deno.ts`) gathers the facts.
 *
 * @module
 */
import type { SequenceKeys } from "../data/sequence_dataset.ts";
import { DATASET_CONTEXT_TAG, type MlflowDatasetInput } from "../tracking/tracking_store.ts";

/** What a job used a data set for (`mlflow.data.context`). */
export type DatasetContext = "training" | "validation" | "evaluation";

/** One array member of an `.npz`, from its header. */
export interface NpzMemberFacts {
  readonly name: string;
  /** numpy's dtype name, e.g. `float32`. */
  readonly dtype: string;
  readonly shape: readonly number[];
}

/** What describes one data file, whatever its kind. */
export interface DataFileFacts {
  /** The path as the job read it (absolute, so that it means something elsewhere). */
  readonly path: string;
  /** SHA-256 of the file's bytes, hex. */
  readonly sha256: string;
  readonly bytes: number;
  /** Rows per class 0..K-1. */
  readonly classCounts: readonly number[];
}

/** A sequence `.npz` as the loader read it. */
export interface SequenceFileFacts extends DataFileFacts {
  readonly members: readonly NpzMemberFacts[];
  readonly keys: SequenceKeys;
  readonly rows: number;
  readonly window: number;
  readonly features: number;
}

/** MLflow's digest field holds at most 36 characters. */
const DIGEST_LENGTH = 36;

/** JSON as Python's `json.dumps` spaces it (`", "` and `": "`), as MLflow's own fields read. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value ?? null);
}

function fileStem(path: string): string {
  const base = path.replace(/\/+$/, "").split("/").pop() ?? path;
  return base.replace(/\.[^.]+$/, "") || base;
}

/** The data set input of a file: name, digest, source from the facts; schema and profile given. */
function fileDatasetInput(
  facts: DataFileFacts,
  context: DatasetContext,
  schema: unknown,
  profile: unknown,
): MlflowDatasetInput {
  return {
    dataset: {
      name: fileStem(facts.path),
      digest: facts.sha256.slice(0, DIGEST_LENGTH),
      sourceType: "local",
      source: pythonJson({ uri: facts.path }),
      schema: pythonJson(schema),
      profile: pythonJson(profile),
    },
    tags: { [DATASET_CONTEXT_TAG]: context },
  };
}

function classCountsJson(counts: readonly number[]): Record<string, number> {
  return Object.fromEntries(counts.map((n, c) => [String(c), n]));
}

const tensorSpec = (m: NpzMemberFacts) => ({
  name: m.name,
  type: "tensor",
  "tensor-spec": { dtype: m.dtype, shape: [-1, ...m.shape.slice(1)] },
});

/**
 * A sequence file as an MLflow data set input: features = every member but the labels,
 * targets = the labels member (shapes with -1 rows, as MLflow writes arrays).
 */
export function sequenceDatasetInput(
  facts: SequenceFileFacts,
  context: DatasetContext,
): MlflowDatasetInput {
  const targets = facts.members.filter((m) => m.name === facts.keys.yKey);
  const features = facts.members.filter((m) => m.name !== facts.keys.yKey);
  return fileDatasetInput(facts, context, {
    mlflow_tensorspec: {
      features: pythonJson(features.map(tensorSpec)),
      targets: targets.length === 0 ? null : pythonJson(targets.map(tensorSpec)),
    },
  }, {
    rows: facts.rows,
    window: facts.window,
    features: facts.features,
    class_counts: classCountsJson(facts.classCounts),
    keys: { x: facts.keys.xKey, y: facts.keys.yKey, lengths: facts.keys.lengthsKey },
    sha256: facts.sha256,
    file_bytes: facts.bytes,
  });
}

/** A `predictions.csv` (`vehicle_id,label,pred,p0..pK-1`) as an MLflow data set input. */
export function predictionsDatasetInput(
  facts: DataFileFacts & { readonly columns: readonly string[]; readonly rows: number },
  context: DatasetContext,
): MlflowDatasetInput {
  const type = (c: string) => (/^p\d+$/.test(c) ? "double" : "long");
  return fileDatasetInput(facts, context, {
    mlflow_colspec: facts.columns.map((c) => ({ type: type(c), name: c, required: true })),
  }, {
    rows: facts.rows,
    class_counts: classCountsJson(facts.classCounts),
    sha256: facts.sha256,
    file_bytes: facts.bytes,
  });
}
