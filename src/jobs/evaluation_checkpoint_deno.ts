/**
 * Deno edge of reading a checkpoint to predict with: a checkpoint folder of ours (or a file
 * in it), or a `.pt` of ours or of the PyTorch pipeline (its forward and config from the
 * file's `args`, its feature stats from beside it). The evaluate job uses it.
 *
 * @module
 */
import { DEFAULT_SEQUENCE_KEYS, type SequenceKeys } from "../data/sequence_dataset.ts";
import type { Task } from "../metrics/task.ts";
import { createLstmClassifier, type LstmClassifier } from "../model/classifier.ts";
import { loadTorchStateDict, pipelineModelConfig } from "../model/torch_state_dict.ts";
import { readPipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import { readCheckpoint, restoreClassifier } from "../train/checkpoint.ts";
import { readCheckpointDir } from "../train/checkpoint_dir_deno.ts";

/** A checkpoint path names its folder; a file inside it (e.g. state.json) means that folder. */
async function checkpointFolder(path: string): Promise<string> {
  const dir = path.replace(/\/+$/, "");
  try {
    if ((await Deno.stat(dir)).isFile) {
      return dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : ".";
    }
  } catch {
    // readCheckpointDir reports a missing folder with a hint.
  }
  return dir;
}

/** A checkpoint ready to predict with, and what the evaluation needs to know of it. */
export interface LoadedCheckpoint {
  /** The checkpoint folder, or the `.pt` file. */
  readonly path: string;
  /** True for a `.pt` (ours or the pipeline's). */
  readonly torch: boolean;
  /** The MLflow run the checkpoint records (folders of ours); null for none or a `.pt`. */
  readonly runId: string | null;
  /** Creates the classifier with the checkpoint's weights (the caller disposes it). */
  readonly restore: () => LstmClassifier;
  readonly numClasses: number;
  readonly keys: SequenceKeys;
  /** The checkpoint's own feature stats, when it carries or sits beside them. */
  readonly stats: { readonly text: string; readonly source: string } | null;
  /** For the bundle's meta: where, which epoch, which val macro-F1. */
  readonly describe: string;
  /** The task it was trained for; null for a `.pt` (the pipeline's has none). */
  readonly task: Task | null;
  /** The temperature fitted on validation; null when none was (always for a `.pt`). */
  readonly temperature: number | null;
}

/** True when `path` is a `.pt` file (by name, or a zip where a folder was expected). */
async function isTorchFile(path: string): Promise<boolean> {
  try {
    if (!(await Deno.stat(path)).isFile) return false;
  } catch {
    return false;
  }
  if (path.endsWith(".pt") || path.endsWith(".pth")) return true;
  const f = await Deno.open(path);
  try {
    const head = new Uint8Array(2);
    return (await f.read(head)) === 2 && head[0] === 0x50 && head[1] === 0x4b;
  } finally {
    f.close();
  }
}

/** Reads a `.pt` checkpoint: the pipeline's forward and config from its `args`. */
async function loadTorchCheckpoint(path: string, label: string): Promise<LoadedCheckpoint> {
  let ckpt;
  try {
    ckpt = readPipelineCheckpoint(await Deno.readFile(path));
  } catch (cause) {
    throw new Error(`Cannot read ${label} ${path}: ${(cause as Error).message}`, { cause });
  }
  const config = pipelineModelConfig(ckpt.modelState, ckpt.args);
  const key = (name: string, fallback: string) => {
    const v = ckpt.args.get(name);
    return typeof v === "string" && v !== "" ? v : fallback;
  };
  const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const beside = `${folder}/feature_stats.json`;
  let stats: LoadedCheckpoint["stats"] = null;
  try {
    stats = { text: await Deno.readTextFile(beside), source: beside };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return {
    path,
    torch: true,
    runId: null,
    restore() {
      const model = createLstmClassifier(config, { seed: 0 });
      try {
        loadTorchStateDict(model, ckpt.modelState);
      } catch (e) {
        model.dispose();
        throw e;
      }
      return model;
    },
    numClasses: config.numClasses,
    keys: {
      xKey: key("x_key", DEFAULT_SEQUENCE_KEYS.xKey),
      yKey: key("y_key", DEFAULT_SEQUENCE_KEYS.yKey),
      lengthsKey: key("lengths_key", DEFAULT_SEQUENCE_KEYS.lengthsKey),
    },
    stats,
    task: null,
    temperature: null,
    describe: `${path} (epoch ${ckpt.epoch} counted from 0, pooling ${config.pooling}, ` +
      `best val macro-F1 ${ckpt.bestValF1 === null ? "none" : ckpt.bestValF1.toFixed(4)})`,
  };
}

/** Reads a checkpoint folder of ours. */
async function loadCheckpointFolder(path: string): Promise<LoadedCheckpoint> {
  const dir = await checkpointFolder(path);
  const files = await readCheckpointDir(dir);
  const checkpoint = readCheckpoint(files);
  return {
    path: dir,
    torch: false,
    runId: checkpoint.run?.runId ?? null,
    restore: () => restoreClassifier(checkpoint),
    numClasses: checkpoint.modelConfig.numClasses,
    keys: checkpoint.dataKeys ?? DEFAULT_SEQUENCE_KEYS,
    stats: files["feature_stats.json"]
      ? {
        text: new TextDecoder().decode(files["feature_stats.json"]),
        source: `${dir}/feature_stats.json`,
      }
      : null,
    task: checkpoint.task ?? null,
    temperature: checkpoint.temperature ?? null,
    describe: `${dir} (epoch ${checkpoint.epoch}, best val macro-F1 ${
      checkpoint.bestValF1.toFixed(4)
    })`,
  };
}

/** Reads the checkpoint at `path`: a `.pt` file, else a checkpoint folder (or a file in it). */
export async function loadEvaluationCheckpoint(
  path: string,
  label: string,
): Promise<LoadedCheckpoint> {
  return await isTorchFile(path)
    ? await loadTorchCheckpoint(path, label)
    : await loadCheckpointFolder(path);
}
