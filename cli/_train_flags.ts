/**
 * `deno task train` flags -> one frozen `TrainJobConfig` (model, loop and run settings).
 * Flag parsing only; no I/O.
 *
 * @module
 */
import { parseArgs } from "#args";
import { parseDevice } from "../src/runtime/backend.ts";
import { LSTM_IMPLS } from "../src/model/lstm_impl.ts";
import { POOLINGS } from "../src/model/model_settings.ts";
import { DEFAULT_TRAIN_JOB, type RunSpec, type TrainJobConfig } from "../src/jobs/run_spec.ts";
import type { RunSpecLabels } from "../src/jobs/train_job_deno.ts";
import { validateMlflowKey } from "../src/tracking/tracking_store.ts";
import { parseTrackingUri } from "../src/tracking/tracking_uri.ts";
import { integerFlag } from "./_cli.ts";
import { expandAbbreviations } from "./_abbreviations.ts";

const STRING_FLAGS = [
  "train-npz",
  "val-npz",
  "feature-stats",
  "output-dir",
  "batch-size",
  "epochs",
  "hidden-size",
  "num-layers",
  "dropout",
  "pooling",
  "lr",
  "weight-decay",
  "step-lr-step-size",
  "step-lr-gamma",
  "grad-clip",
  "device",
  "resume-from",
  "log-interval",
  "mlflow-tracking-uri",
  "mlflow-experiment",
  "mlflow-run-name",
  "seed",
  "patience",
  "x-key",
  "y-key",
  "lengths-key",
  "data-version",
  "model-tag",
  "lstm-impl",
  "mlflow-parent-run-id",
  "system-metrics-interval",
  "task",
  "num-classes",
] as const;
const BOOLEAN_FLAGS = [
  "bidirectional",
  "weighted-loss",
  "weighted-sampler",
  "focal-loss",
  "mlflow",
  "bucket-by-length",
  "class-weighted",
  "overwrite",
  "log-system-metrics",
] as const;
/** Flags that may be repeated. */
const LIST_FLAGS = ["mlflow-tag"] as const;

/** Every flag `deno task train` accepts. */
export const TRAIN_FLAGS: readonly string[] = Object.freeze(
  [...STRING_FLAGS, ...BOOLEAN_FLAGS, ...LIST_FLAGS, "help"].map((f) => `--${f}`),
);

type Options = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

/** Result of {@link parseTrainArgs}. */
export interface ParsedTrainArgs {
  readonly help: boolean;
  readonly job: TrainJobConfig;
  /** The settings given as flags (camelCase), e.g. to take the others from a .pt's args. */
  readonly given: ReadonlySet<string>;
  /** Deprecations and ignored combinations, to print before training. */
  readonly warnings: readonly string[];
}

/** `--train-npz`, `--x-key`, ...: the flag of each run setting, for the job's errors. */
export const RUN_SPEC_FLAGS: RunSpecLabels = Object.freeze(
  Object.fromEntries(
    Object.keys(DEFAULT_TRAIN_JOB.run).map((k) => [
      k,
      `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    ]),
  ) as Record<keyof RunSpec, string>,
);

function intFlag(flag: string, raw: string | undefined, fallback: number, min: number): number {
  return raw === undefined ? fallback : integerFlag(flag, raw, min);
}

function numFlag(
  flag: string,
  raw: string | undefined,
  fallback: number,
  ok: (x: number) => boolean,
  expected: string,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || !ok(n)) {
    throw new RangeError(`Cannot use --${flag} ${JSON.stringify(raw)}: expected ${expected}`);
  }
  return n;
}

function choiceFlag<T extends string>(
  flag: string,
  raw: string | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) {
    throw new RangeError(
      `Cannot use --${flag} ${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`,
    );
  }
  return raw as T;
}

function textFlag(
  flag: string,
  raw: string | undefined,
  fallback: string,
  allowEmpty = false,
): string {
  if (raw === undefined) return fallback;
  if (!allowEmpty && raw.trim() === "") {
    throw new RangeError(`Cannot use --${flag} "": expected a non-empty value`);
  }
  return raw;
}

function runIdFlag(flag: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback;
  if (!/^[0-9a-zA-Z_-]{1,64}$/.test(raw)) {
    throw new RangeError(
      `Cannot use --${flag} ${JSON.stringify(raw)}: expected a run id (letters, digits, _ and -)`,
    );
  }
  return raw;
}

/** `KEY=VALUE` flags as tags; keys follow MLflow's rules. */
function tagFlags(flag: string, raws: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const raw of raws) {
    const eq = raw.indexOf("=");
    const key = eq < 0 ? "" : raw.slice(0, eq);
    try {
      if (eq < 0) throw new TypeError("expected KEY=VALUE");
      validateMlflowKey("tag", key);
    } catch (cause) {
      throw new RangeError(
        `Cannot use --${flag} ${JSON.stringify(raw)}: ${
          eq < 0 ? "expected KEY=VALUE" : (cause as Error).message
        }`,
        { cause },
      );
    }
    tags[key] = raw.slice(eq + 1);
  }
  return tags;
}

/**
 * Parses argv into the resolved job; flags not given keep `base`'s values (the defaults of
 * `deno task train` unless a caller such as quickstart starts from its own). Unknown flags,
 * missing values and bad values throw an error naming the flag and what is allowed. Files
 * are not checked here (the train job reads them).
 */
export function parseTrainArgs(
  args: readonly string[],
  base: TrainJobConfig = DEFAULT_TRAIN_JOB,
): ParsedTrainArgs {
  const D = { ...base.model, ...base.loop, ...base.run };
  const options: Options = { help: { type: "boolean", short: "h" } };
  for (const f of STRING_FLAGS) options[f] = { type: "string" };
  for (const f of BOOLEAN_FLAGS) options[f] = { type: "boolean" };
  for (const f of LIST_FLAGS) options[f] = { type: "string", multiple: true };
  // argparse's prefix abbreviations first (--epoch -> --epochs).
  let expanded: string[];
  try {
    expanded = expandAbbreviations(args, Object.keys(options), [...STRING_FLAGS, ...LIST_FLAGS]);
  } catch (cause) {
    throw new TypeError(
      `Cannot parse the train flags: ${(cause as Error).message}; allowed flags: ${
        TRAIN_FLAGS.join(", ")
      } (see --help)`,
      { cause },
    );
  }
  // "--batch-size -1": join negative numbers to their flag so the value check (not
  // parseArgs' "ambiguous" error) reports what is wrong with them.
  const joined: string[] = [];
  for (let i = 0; i < expanded.length; i++) {
    const name = expanded[i].startsWith("--") ? expanded[i].slice(2) : "";
    const next = expanded[i + 1];
    if (
      (STRING_FLAGS as readonly string[]).includes(name) && next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      joined.push(`${expanded[i]}=${next}`);
      i++;
    } else {
      joined.push(expanded[i]);
    }
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: joined, options, strict: true, allowPositionals: false }));
  } catch (cause) {
    const msg = (cause as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    const detail = unknown ? `unknown flag ${unknown[1]}` : msg.replace(/\. To specify.*$/s, "");
    throw new TypeError(
      `Cannot parse the train flags: ${detail}; allowed flags: ${
        TRAIN_FLAGS.join(", ")
      } (see --help)`,
      { cause },
    );
  }
  const s = (k: string) => values[k] as string | undefined;
  const warnings: string[] = [];
  if (values["class-weighted"]) {
    warnings.push(
      "warning: --class-weighted is deprecated; it means --weighted-loss --weighted-sampler",
    );
    values["weighted-loss"] = values["weighted-sampler"] = true;
  }
  const b = (k: string) => values[k] === true;
  const device = s("device");
  if (device !== undefined) parseDevice(device); // throws with the allowed values
  const uri = s("mlflow-tracking-uri");
  if (uri !== undefined) {
    try {
      parseTrackingUri(uri, "/");
    } catch (cause) {
      throw new RangeError(
        `Cannot use --mlflow-tracking-uri ${JSON.stringify(uri.replace(/\/\/[^/@]*@/, "//"))}: ` +
          (cause as Error).message.replace(/^Cannot use tracking URI "[^"]*": /, ""),
        { cause },
      );
    }
  }
  const flat = Object.freeze({
    trainNpz: textFlag("train-npz", s("train-npz"), D.trainNpz),
    valNpz: textFlag("val-npz", s("val-npz"), D.valNpz),
    featureStats: textFlag("feature-stats", s("feature-stats"), D.featureStats),
    outputDir: textFlag("output-dir", s("output-dir"), D.outputDir),
    hiddenSize: intFlag("hidden-size", s("hidden-size"), D.hiddenSize, 1),
    numLayers: intFlag("num-layers", s("num-layers"), D.numLayers, 1),
    bidirectional: b("bidirectional") || D.bidirectional,
    dropout: numFlag(
      "dropout",
      s("dropout"),
      D.dropout,
      (x) => x >= 0 && x < 1,
      "a number in [0, 1)",
    ),
    pooling: choiceFlag("pooling", s("pooling"), D.pooling, POOLINGS),
    batchSize: intFlag("batch-size", s("batch-size"), D.batchSize, 1),
    epochs: intFlag("epochs", s("epochs"), D.epochs, 1),
    lr: numFlag("lr", s("lr"), D.lr, (x) => x > 0, "a number > 0"),
    weightDecay: numFlag(
      "weight-decay",
      s("weight-decay"),
      D.weightDecay,
      (x) => x >= 0,
      "a number >= 0",
    ),
    stepLrStepSize: intFlag("step-lr-step-size", s("step-lr-step-size"), D.stepLrStepSize, 1),
    stepLrGamma: numFlag(
      "step-lr-gamma",
      s("step-lr-gamma"),
      D.stepLrGamma,
      (x) => x > 0,
      "a number > 0",
    ),
    weightedLoss: b("weighted-loss") || D.weightedLoss,
    weightedSampler: b("weighted-sampler") || D.weightedSampler,
    focalLoss: b("focal-loss") || D.focalLoss,
    gradClip: numFlag(
      "grad-clip",
      s("grad-clip"),
      D.gradClip,
      (x) => x >= 0,
      "a number >= 0 (0 = off)",
    ),
    device: device ?? D.device,
    resumeFrom: textFlag("resume-from", s("resume-from"), D.resumeFrom),
    overwrite: b("overwrite") || D.overwrite,
    logInterval: intFlag("log-interval", s("log-interval"), D.logInterval, 1),
    mlflow: b("mlflow") || D.mlflow,
    mlflowTrackingUri: textFlag("mlflow-tracking-uri", uri, D.mlflowTrackingUri),
    mlflowExperiment: textFlag("mlflow-experiment", s("mlflow-experiment"), D.mlflowExperiment),
    mlflowRunName: textFlag("mlflow-run-name", s("mlflow-run-name"), D.mlflowRunName),
    seed: intFlag("seed", s("seed"), D.seed, 0),
    patience: intFlag("patience", s("patience"), D.patience, 0),
    xKey: textFlag("x-key", s("x-key"), D.xKey),
    yKey: textFlag("y-key", s("y-key"), D.yKey),
    lengthsKey: textFlag("lengths-key", s("lengths-key"), D.lengthsKey),
    dataVersion: textFlag("data-version", s("data-version"), D.dataVersion, true),
    modelTag: textFlag("model-tag", s("model-tag"), D.modelTag, true),
    lstmImpl: choiceFlag("lstm-impl", s("lstm-impl"), D.lstmImpl, LSTM_IMPLS),
    bucketByLength: b("bucket-by-length") || D.bucketByLength,
    mlflowParentRunId: runIdFlag(
      "mlflow-parent-run-id",
      s("mlflow-parent-run-id"),
      D.mlflowParentRunId,
    ),
    mlflowTags: Object.freeze({
      ...D.mlflowTags,
      ...tagFlags("mlflow-tag", (values["mlflow-tag"] as string[] | undefined) ?? []),
    }),
    logSystemMetrics: b("log-system-metrics") || D.logSystemMetrics,
    systemMetricsInterval: numFlag(
      "system-metrics-interval",
      s("system-metrics-interval"),
      D.systemMetricsInterval,
      (x) => x >= 0.05,
      "a number of seconds >= 0.05",
    ),
    task: textFlag("task", s("task"), D.task),
    numClasses: intFlag("num-classes", s("num-classes"), D.numClasses, 2),
  });
  if (flat.seed > 0xffffffff) {
    throw new RangeError(`Cannot use --seed ${flat.seed}: expected an integer in 0..4294967295`);
  }
  if (flat.focalLoss && flat.weightedLoss) {
    warnings.push(
      "warning: --focal-loss ignores --weighted-loss (as the PyTorch pipeline): the focal " +
        "loss is unweighted; --weighted-sampler still balances the batches",
    );
  }
  const given = new Set<string>();
  for (const [flag, value] of Object.entries(values)) {
    if (value !== undefined && flag !== "help" && flag !== "class-weighted") {
      given.add(flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()));
    }
  }
  return { help: b("help"), job: splitSettings(flat, base), given, warnings };
}

/** Sorts flat settings into the job's model, loop and run parts (by `base`'s keys). */
function splitSettings(flat: Record<string, unknown>, base: TrainJobConfig): TrainJobConfig {
  const part = <T extends object>(like: T): T =>
    Object.freeze(Object.fromEntries(Object.keys(like).map((k) => [k, flat[k]]))) as T;
  return Object.freeze({ model: part(base.model), loop: part(base.loop), run: part(base.run) });
}
