/**
 * Attaches an evaluation bundle to an MLflow run: its files under
 * `evaluations/<name>/` and its summary as `eval_*` metrics at step 0. This is what
 * promotion later looks for.
 *
 * @module
 */
import type { EvaluationBundle } from "../report/evaluation_bundle.ts";
import { summaryToMlflowMetrics } from "../report/summary_metrics.ts";
import type { TrackingStore } from "../tracking/tracking_store.ts";

/** What {@link attachEvaluation} sent. */
export interface AttachedEvaluation {
  /** Artifact folder of the bundle, e.g. `evaluations/val_sequences`. */
  readonly folder: string;
  readonly files: number;
  /** The metric keys logged (`eval_macro_f1`, ...). */
  readonly metrics: readonly string[];
}

/** Uploads the bundle to `evaluations/<name>/` of run `runId` and logs its summary. */
export async function attachEvaluation(
  store: TrackingStore,
  runId: string,
  name: string,
  bundle: Pick<EvaluationBundle, "files" | "summary">,
  clock: () => number = Date.now,
): Promise<AttachedEvaluation> {
  const folder = `evaluations/${name}`;
  for (const [file, bytes] of bundle.files) {
    await store.uploadArtifact(runId, `${folder}/${file}`, bytes);
  }
  const metrics = summaryToMlflowMetrics(bundle.summary);
  const timestamp = clock();
  await store.logBatch(runId, {
    metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp, step: 0 })),
  });
  return { folder, files: bundle.files.size, metrics: Object.keys(metrics) };
}
