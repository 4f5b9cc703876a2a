/**
 * `deno task train`: flags -> config -> backend -> data -> `train()` with the console,
 * metrics.csv and checkpoint hooks. Wiring only; the loop lives in `src/train/`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseFeatureStats } from "../src/data/feature_stats.ts";
import { loadSequenceFile } from "../src/data/load_sequences_deno.ts";
import { parseDevice, selectBackend } from "../src/runtime/backend.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";
import { readCheckpointDir } from "../src/train/checkpoint_dir_deno.ts";
import { combineHooks } from "../src/train/combine_hooks.ts";
import type { TrainConfig } from "../src/train/config.ts";
import type { TrainHooks } from "../src/train/hooks.ts";
import { modelConfigFor, train } from "../src/train/train.ts";
import { chooseLstmKernel, warmUpClassifierShaders } from "../src/model/mod.ts";
import { parseTrainArgs, TRAIN_HELP } from "./_train_flags.ts";
import { checkpointDirHooks, consoleHooks, metricsCsvHooks } from "./_train_hooks.ts";
import { startMlflowTracking } from "./_tracking.ts";
import { runMain } from "./_cli.ts";

/** Exit status of a run stopped by Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

async function readText(flag: string, path: string, hint: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot read ${flag} ${path}: file not found; ${hint}`, { cause });
    }
    throw new Error(`Cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
}

function printConfig(config: TrainConfig): void {
  const width = Math.max(...Object.keys(config).map((k) => k.length));
  console.log("config:");
  for (const [k, v] of Object.entries(config)) {
    console.log(`  ${k.padEnd(width)}  ${JSON.stringify(v)}`);
  }
}

/** Runs `deno task train` with `args`; returns the exit status (0, or 130 after Ctrl-C). */
export async function main(args: readonly string[]): Promise<number> {
  const { help, config } = parseTrainArgs(args);
  if (help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  printConfig(config);

  const statsJson = await readText(
    "--feature-stats",
    config.featureStats,
    "`deno task sample` writes artifacts/feature_stats.json; pass the stats computed on your training data",
  );
  const stats = parseFeatureStats(statsJson);
  const resume = config.resumeFrom ? await readCheckpointDir(config.resumeFrom) : undefined;
  if (resume) {
    // Resuming is exact only with the same data and optimisation settings; say what differs.
    const at = readCheckpoint(resume);
    const saved = at.config as unknown as Record<string, unknown>;
    const free = new Set(["epochs", "resumeFrom", "outputDir", "device", "logInterval"]);
    const differs = Object.entries(config)
      .filter(([k, v]) => !free.has(k) && !k.startsWith("mlflow") && saved[k] !== v)
      .map(([k, v]) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(v)}`);
    console.log(
      `resuming from ${config.resumeFrom}: epoch ${at.epoch} done` +
        (at.stepInEpoch > 0 ? `, ${at.stepInEpoch} steps into epoch ${at.epoch + 1}` : ""),
    );
    if (differs.length > 0) {
      console.log(
        `note: settings differ from the checkpoint (${differs.join(", ")}); ` +
          "the result will not match an uninterrupted run",
      );
    }
  }

  const runtime = await selectBackend(parseDevice(config.device));
  console.log(
    `backend: ${runtime.backend} | adapter: ${runtime.adapter ?? "none"} | ${runtime.reason}`,
  );
  console.log(
    `LSTM: ${chooseLstmKernel(config.lstmImpl, config.hiddenSize, runtime.backend).description}`,
  );

  const keys = { xKey: config.xKey, yKey: config.yKey, lengthsKey: config.lengthsKey, stats };
  const t0 = performance.now();
  const trainData = await loadSequenceFile(config.trainNpz, { ...keys, flag: "--train-npz" });
  const valData = await loadSequenceFile(config.valNpz, { ...keys, flag: "--val-npz" });
  if (valData.features !== trainData.features) {
    throw new RangeError(
      `Cannot use --val-npz ${config.valNpz}: it has ${valData.features} features per step, ` +
        `--train-npz ${config.trainNpz} has ${trainData.features}; pass files from the same pipeline`,
    );
  }
  for (const [name, d] of [["train", trainData], ["val", valData]] as const) {
    const mean = d.lengths.reduce((a, b) => a + b, 0) / d.size;
    console.log(
      `${name}: ${d.size} windows of ${d.steps} steps x ${d.features} features, ` +
        `mean valid length ${mean.toFixed(1)}`,
    );
  }
  console.log(`data loaded and transformed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  await Deno.mkdir(config.outputDir, { recursive: true });
  await Deno.writeTextFile(`${config.outputDir}/feature_stats.json`, statsJson);

  // Subscribers, in order: MLflow comes after metrics.csv so the file is complete at the end.
  const hooks: TrainHooks[] = [
    consoleHooks({ isTerminal: Deno.stdout.isTerminal(), epochs: config.epochs }),
    metricsCsvHooks(config.outputDir),
    checkpointDirHooks(config.outputDir, (line) => console.log(line)),
  ];
  if (config.mlflow) {
    const tracking = await startMlflowTracking(config, {
      windowSize: trainData.steps,
      runtime,
      inputFiles: { train_npz: config.trainNpz, val_npz: config.valNpz },
    });
    hooks.push(tracking.hooks);
  }

  // Ctrl-C: finish the current step, write last/, exit 130. A second Ctrl-C exits at once.
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(EXIT_INTERRUPTED);
    console.log(
      "\ninterrupt: finishing the current step and writing last/ (Ctrl-C again to quit now)",
    );
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  if (runtime.backend === "webgpu" && runtime.isFallbackAdapter) {
    console.log(
      "compiling WebGPU shaders on every core before the first step (once; Mesa caches them)",
    );
    const modelConfig = modelConfigFor(config, trainData);
    const warm = await warmUpClassifierShaders(modelConfig, { batchSize: config.batchSize });
    console.log(
      `compiled ${warm.shaders} shaders on ${warm.devices} devices in ${
        (warm.ms / 1000).toFixed(1)
      } s`,
    );
  }
  try {
    // Round trimmed windows to 16 steps on WebGPU: fewer distinct shapes, fewer shader compiles.
    const stepMultiple = tf.getBackend() === "webgpu" ? 16 : 1;
    const result = await train(
      config,
      {
        train: trainData,
        val: valData,
        featureStatsJson: statsJson,
      },
      combineHooks(hooks),
      { signal: controller.signal, resume, stepMultiple },
    );
    return result.status === "KILLED" ? EXIT_INTERRUPTED : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

if (import.meta.main) await runMain(main);
