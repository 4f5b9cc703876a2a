/**
 * Deno edge of what MLflow 3 shows of a training beside its metrics (data set inputs,
 * system metrics, the logged model), as training hooks.
 *
 * @module
 */
import type { SequenceDataset, SequenceKeys } from "../data/sequence_dataset.ts";
import type { RuntimeInfo } from "../runtime/backend.ts";
import type { TrainHooks } from "../train/hooks.ts";
import { sequenceFileInput } from "./dataset_inputs_deno.ts";
import { loggedModelHooks } from "./logged_model_hooks.ts";
import { trainingParams, type TrainJobConfig } from "./run_spec.ts";
import type { RunTracking } from "./run_tracking_deno.ts";
import { startSystemMetrics, systemMetricsHooks } from "./system_metrics_deno.ts";

/**
 * What MLflow 3 shows of a training beside its metrics: the train and val files as the
 * run's data set inputs (now), system metrics (when asked), and the best checkpoint as a
 * logged model (at the end). The hooks go before the run's own, which end it.
 */
export async function mlflow3Hooks(
  job: TrainJobConfig,
  tracking: RunTracking,
  data: { train: SequenceDataset; val?: SequenceDataset },
  runtime: RuntimeInfo,
  log: (line: string) => void,
): Promise<{ hooks: TrainHooks[]; close: () => Promise<void> }> {
  const { run } = job;
  const keys: SequenceKeys = { xKey: run.xKey, yKey: run.yKey, lengthsKey: run.lengthsKey };
  const { logger, tags } = tracking;
  logger.logInputs([
    await sequenceFileInput(
      run.trainNpz,
      keys,
      data.train,
      "training",
      tags["input.train_npz.sha256"],
    ),
    // No --val-npz: no validation data set.
    ...(data.val
      ? [
        await sequenceFileInput(
          run.valNpz,
          keys,
          data.val,
          "validation",
          tags["input.val_npz.sha256"],
        ),
      ]
      : []),
  ]);
  const hooks: TrainHooks[] = [];
  let close = () => Promise.resolve();
  if (run.logSystemMetrics) {
    if (runtime.backend === "webgpu" && runtime.adapter) {
      logger.logTags({ "system.webgpu_adapter": runtime.adapter });
    }
    const sampler = await startSystemMetrics(logger, {
      intervalMs: run.systemMetricsInterval * 1000,
      onWarning: log,
    });
    hooks.push(systemMetricsHooks(sampler));
    close = () => sampler.stop();
  }
  hooks.push(loggedModelHooks(logger, {
    name: tracking.runName,
    params: trainingParams(job.model, job.loop, run),
    tags,
    toolkitVersion: tags["toolkit.version"] ?? "unknown",
  }));
  return { hooks, close };
}
