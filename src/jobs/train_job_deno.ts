/**
 * Deno edge of the training job: from a {@link TrainJobConfig} to a finished training.
 * Checks the output folder, reads the feature stats and the data (with the same checked
 * loader as evaluation), picks the backend, checks that the model fits, and only then
 * writes: `metrics.csv`, `feature_stats.json`, `last.pt` / `best.pt` and the checkpoint
 * folders (see `training_files_deno.ts`), tracking the run in MLflow when asked (a training
 * resumed from a checkpoint folder continues its checkpoint's run). It resumes from a
 * checkpoint folder or a `.pt` of ours or of the PyTorch pipeline. `cli/train.ts` and
 * `cli/quickstart.ts` call it; they parse flags and print.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseFeatureStats } from "../data/feature_stats.ts";
import { loadSequenceFile } from "../data/load_sequences_deno.ts";
import type { SequenceKeys } from "../data/sequence_dataset.ts";
import { defaultTask, parseTask, type Task } from "../metrics/task.ts";
import { parseDevice, type RuntimeInfo, selectBackend } from "../runtime/backend.ts";
import { readCheckpoint } from "../train/checkpoint.ts";
import { combineHooks } from "../train/combine_hooks.ts";
import type { TrainHooks } from "../train/hooks.ts";
import { parseTrackingUri, resolveTrackingUri } from "../tracking/tracking_uri.ts";
import { resolveTaskData } from "../train/task_data.ts";
import { modelConfigFor, train, type TrainResult } from "../train/train.ts";
import { chooseLstmKernel } from "../model/lstm_impl.ts";
import { warmUpClassifierShaders } from "../model/lstm_warmup.ts";
import { applyPipelineArgs } from "./pipeline_args.ts";
import { mlflow3Hooks } from "./mlflow3_hooks_deno.ts";
import { differingSettings, readResumeSource } from "./resume_source_deno.ts";
import type { RunSpec, TrainJobConfig } from "./run_spec.ts";
import {
  checkOutputDir,
  recoverCheckpointDir,
  recoverOutputDir,
  removeTrainingOutputs,
  resumedCsvRows,
  trainingFilesHooks,
} from "./training_files_deno.ts";
import {
  checkTrainingMemory,
  type MemoryLimits,
  trainingMemory,
  WASM_MEMORY_BYTES,
} from "./training_memory.ts";
import { type RunTracking, startRunTracking, type TrackingContext } from "./run_tracking_deno.ts";
import type { TrackedTraining } from "./tracked_training.ts";

/** How errors name the run spec's settings (default: the setting's name); the CLI gives flags. */
export type RunSpecLabels = Readonly<Partial<Record<keyof RunSpec, string>>>;

/** Options of {@link runTrainJob}. */
export interface TrainJobOptions {
  /** The caller's own subscribers (console progress), called before the job's. */
  readonly hooks?: readonly TrainHooks[];
  /** Abort = finish the current step or validation batch, write `last/`, status KILLED. */
  readonly signal?: AbortSignal;
  /** Called once the MLflow run is open (e.g. to spool its queue on a hard exit). */
  readonly onTracking?: (tracking: RunTracking) => void;
  /** Environment for tracking (`MLFLOW_*`, `USER`); default `Deno.env.toObject()`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Progress lines (backend, data, checkpoints, MLflow); default none. */
  readonly log?: (line: string) => void;
  /** How errors name the settings; the CLI passes its flags. */
  readonly labels?: RunSpecLabels;
  /** `mlflow.source.name` of the run (default `cli/train.ts`). */
  readonly sourceName?: string;
  /**
   * The model and loop settings the user gave (camelCase); resuming from a `.pt` takes the
   * others from its `args`. Default: all given (nothing is taken).
   */
  readonly given?: ReadonlySet<string>;
}

/** How {@link runTrainJob} ended. */
export interface TrainJobResult extends TrainResult {
  readonly runtime: RuntimeInfo;
  /** The MLflow run, when tracked. */
  readonly tracking: TrackedTraining | null;
}

async function readText(what: string, path: string, hint: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot read ${what} ${path}: file not found; ${hint}`, { cause });
    }
    throw new Error(`Cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** The task file named by the run spec, if any, checked against `--num-classes`. */
async function readTaskFile(
  run: RunSpec,
  label: (key: keyof RunSpec) => string,
): Promise<Task | null> {
  if (run.task === "") return null;
  const source = `${label("task")} ${run.task}`;
  const task = parseTask(
    await readText(
      label("task"),
      run.task,
      'write a JSON object such as {"class_names": ["ok", "fails"]} (see docs/train.md)',
    ),
    source,
  );
  if (run.numClasses !== 0 && run.numClasses !== task.classNames.length) {
    throw new RangeError(
      `Cannot use ${label("numClasses")} ${run.numClasses} with ${source}: the task names ` +
        `${task.classNames.length} classes`,
    );
  }
  return task;
}

/** One line describing the task, and where it came from. */
function describeTask(task: Task, given: boolean, labelTask: string): string {
  const shown = task.classNames.length <= 12
    ? task.classNames.join(", ")
    : `${task.classNames.slice(0, 12).join(", ")}, ...`;
  return `task: ${task.name}, ${task.classNames.length} classes (${shown}); ` +
    `${task.costMatrix ? "cost matrix" : "no cost matrix"}; best checkpoint by ` +
    `${task.promotionMetric}` +
    (given ? "" : ` (built-in default; name another with ${labelTask} FILE)`);
}

/**
 * Runs one training job. Resolves with the loop's result (status KILLED after an abort);
 * throws with a message naming the file or setting on bad input.
 */
export async function runTrainJob(
  asked: TrainJobConfig,
  options: TrainJobOptions = {},
): Promise<TrainJobResult> {
  let job = asked;
  const { run } = job;
  const log = options.log ?? (() => {});
  const label = (key: keyof RunSpec) => options.labels?.[key] ?? key;
  if (run.resumeFrom !== "" && run.overwrite) {
    throw new RangeError(
      `Cannot use ${label("resumeFrom")} with ${label("overwrite")}: resuming continues the ` +
        `outputs in ${run.outputDir}, overwriting replaces them; pass one of the two`,
    );
  }
  if (run.mlflow) {
    // The tracking URI (flag or MLFLOW_TRACKING_URI) is checked before any work or write.
    const env = options.env ?? Deno.env.toObject();
    parseTrackingUri(resolveTrackingUri(run.mlflowTrackingUri, env), Deno.cwd());
  }
  // Repair what a killed training left (an interrupted checkpoint commit), then check.
  for (const line of await recoverOutputDir(run.outputDir)) log(line);
  if (run.resumeFrom !== "" && !run.resumeFrom.endsWith(".pt")) {
    for (const line of await recoverCheckpointDir(run.resumeFrom.replace(/\/+$/, ""))) log(line);
  }
  const source = await readResumeSource(run.resumeFrom, label("resumeFrom"), log);
  // A --resume-from that does not exist starts from scratch (as the pipeline): a fresh
  // training, which must not replace another's outputs either.
  await checkOutputDir(run.outputDir, {
    resumeFrom: source.kind === "none" ? "" : run.resumeFrom,
    overwrite: run.overwrite,
  });
  if (source.kind === "pt") {
    const pt = source.checkpoint;
    const given = options.given ?? new Set([...Object.keys(job.model), ...Object.keys(job.loop)]);
    const applied = applyPipelineArgs(job, pt.args, given);
    job = applied.job;
    log(
      `resuming from ${run.resumeFrom}: epoch ${pt.epoch} (0-based) done, best val macro-F1 ${
        pt.bestValF1 ?? "none"
      }` + (applied.taken.length > 0 ? `; from its args: ${applied.taken.join(", ")}` : "") +
        (run.mlflow ? "; a .pt names no MLflow run: this training starts a new one" : ""),
    );
  }
  const statsJson = await readText(
    label("featureStats"),
    run.featureStats,
    "`deno task sample` writes artifacts/feature_stats.json; pass the stats computed on your training data",
  );
  const stats = parseFeatureStats(statsJson);
  const taskFile = await readTaskFile(run, label);
  const requestedK = taskFile?.classNames.length ?? run.numClasses;
  const resume = source.kind === "folder" ? source.files : undefined;
  const at = resume ? readCheckpoint(resume) : undefined;
  if (at) {
    // Resuming is exact only with the same data and optimisation settings; say what differs.
    log(
      `resuming from ${run.resumeFrom}: epoch ${at.epoch} done` +
        (at.stepInEpoch > 0 ? `, ${at.stepInEpoch} steps into epoch ${at.epoch + 1}` : ""),
    );
    const differs = differingSettings(job, at);
    if (differs.length > 0) {
      log(
        `note: settings differ from the checkpoint (${differs.join(", ")}); ` +
          "the result will not match an uninterrupted run",
      );
    }
  }

  const runtime = await selectBackend(parseDevice(run.device), { device: run.device });
  log(`backend: ${runtime.backend} | adapter: ${runtime.adapter ?? "none"} | ${runtime.reason}`);
  log(`LSTM: ${chooseLstmKernel(job.model.lstmImpl, job.model.hiddenSize).description}`);

  const keys: SequenceKeys = { xKey: run.xKey, yKey: run.yKey, lengthsKey: run.lengthsKey };
  const load = {
    ...keys,
    numClasses: requestedK === 0 ? undefined : requestedK,
    numClassesSource: taskFile
      ? `${label("task")} ${run.task}`
      : `${label("numClasses")} ${run.numClasses}`,
    stats,
    statsLabel: label("featureStats"),
    keyLabels: { xKey: label("xKey"), yKey: label("yKey"), lengthsKey: label("lengthsKey") },
  };
  const t0 = performance.now();
  const trainData = await loadSequenceFile(run.trainNpz, { ...load, label: label("trainNpz") });
  const valData = run.valNpz === ""
    ? undefined
    : await loadSequenceFile(run.valNpz, { ...load, label: label("valNpz") });
  if (!valData) {
    log(
      `no ${label("valNpz")}: training without validation (no val metrics, no best checkpoint), ` +
        "as the pipeline",
    );
  }
  if (valData && valData.features !== trainData.features) {
    throw new RangeError(
      `Cannot use ${label("valNpz")} ${run.valNpz}: it has ${valData.features} features per ` +
        `step, ${label("trainNpz")} ${run.trainNpz} has ${trainData.features}; pass files from ` +
        "the same pipeline",
    );
  }
  for (const [name, d] of [["train", trainData], ["val", valData]] as const) {
    if (!d) continue;
    const mean = d.lengths.reduce((a, b) => a + b, 0) / d.size;
    log(
      `${name}: ${d.size} windows of ${d.steps} steps x ${d.features} features, ` +
        `mean valid length ${mean.toFixed(1)}`,
    );
  }
  log(`data loaded and transformed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const data = resolveTaskData({
    train: trainData,
    val: valData,
    task: taskFile ?? (requestedK === 0 ? undefined : defaultTask(requestedK)),
  });
  log(describeTask(data.task, taskFile !== null, label("task")));
  checkTrainingMemory(
    trainingMemory(
      modelConfigFor(job.model, data.train),
      Math.min(job.loop.batchSize, trainData.size),
      trainData.steps,
    ),
    { ...job.model, batchSize: job.loop.batchSize },
    memoryLimits(runtime),
  );

  // Everything is checked: from here on the job writes.
  if (run.overwrite) {
    const removed = await removeTrainingOutputs(run.outputDir);
    if (removed.length > 0) {
      log(
        `--overwrite: removed ${removed.join(", ")} of the previous training in ${run.outputDir}`,
      );
    }
  }
  await Deno.mkdir(run.outputDir, { recursive: true });
  await Deno.writeTextFile(`${run.outputDir}/feature_stats.json`, statsJson);
  // The metrics.csv rows the resumed epochs follow (a pipeline .pt's epoch is 0-based).
  const rows = resume && at
    ? await resumedCsvRows(resume, at.epoch, run.outputDir, log)
    : source.kind === "pt"
    ? await resumedCsvRows({}, source.checkpoint.epoch + 1, run.outputDir, log)
    : [];

  // Subscribers, in order: MLflow comes after the files, so that an epoch's metrics and
  // checkpoint artifacts are sent once its checkpoint is on disk.
  const hooks: TrainHooks[] = [
    ...(options.hooks ?? []),
    trainingFilesHooks(run.outputDir, log, rows, data.task.costMatrix !== null),
  ];
  let tracking: TrackedTraining | null = null;
  let closeExtras = () => Promise.resolve();
  if (run.mlflow) {
    const context: TrackingContext = {
      windowSize: trainData.steps,
      task: data.task,
      runtime,
      inputFiles: {
        train_npz: run.trainNpz,
        ...(run.valNpz ? { val_npz: run.valNpz } : {}),
        ...(run.task ? { task: run.task } : {}),
      },
      env: options.env,
      log,
      sourceName: options.sourceName,
      resume: at ? { run: at.run, epoch: at.epoch } : undefined,
    };
    const runTracking = await startRunTracking(job, context);
    options.onTracking?.(runTracking);
    tracking = runTracking;
    const extras = await mlflow3Hooks(job, runTracking, data, runtime, log);
    hooks.push(...extras.hooks, tracking.hooks);
    closeExtras = extras.close;
  }
  if (runtime.backend === "webgpu" && runtime.isFallbackAdapter) {
    log("compiling WebGPU shaders on every core before the first step (once; Mesa caches them)");
    const model = modelConfigFor(job.model, data.train);
    const warm = await warmUpClassifierShaders(model, { batchSize: job.loop.batchSize });
    log(
      `compiled ${warm.shaders} shaders on ${warm.devices} devices in ${
        (warm.ms / 1000).toFixed(1)
      } s`,
    );
  }
  // Round trimmed windows to 16 steps on WebGPU: fewer distinct shapes, fewer shader compiles.
  const stepMultiple = tf.getBackend() === "webgpu" ? 16 : 1;
  let result: TrainResult;
  try {
    result = await train(
      job,
      { ...data, featureStatsJson: statsJson, keys },
      combineHooks(hooks),
      {
        signal: options.signal,
        resume,
        resumePipeline: source.kind === "pt" ? source.checkpoint : undefined,
        runArgs: run,
        log,
        stepMultiple,
        run: tracking ? { runId: tracking.runId, experimentId: tracking.experimentId } : undefined,
      },
    );
  } finally {
    await closeExtras(); // (a training that fails before its first hook never ends them)
  }
  return { ...result, runtime, tracking };
}

/** What the selected backend can hold (WebGPU: the device's largest storage buffer). */
function memoryLimits(runtime: RuntimeInfo): MemoryLimits {
  if (runtime.backend === "webgpu") {
    const limits = (tf.backend() as unknown as { device?: GPUDevice }).device?.limits;
    return { name: "the WebGPU device", tensorBytes: limits?.maxStorageBufferBindingSize };
  }
  const ram = Deno.systemMemoryInfo().total;
  return {
    name: ram < WASM_MEMORY_BYTES
      ? "this machine's memory"
      : "the wasm backend's 4 GiB of addressable memory",
    totalBytes: Math.min(ram, WASM_MEMORY_BYTES),
  };
}
