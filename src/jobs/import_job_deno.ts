/**
 * Deno edge of "import the PyTorch pipeline's champion": evaluates its `.pt` (e.g.
 * `artifacts/best.pt`) on the validation data with the pipeline's forward, records it as an
 * MLflow run (params from the checkpoint's `args`, `val_macro_f1` of that evaluation, the
 * `.pt` and the evaluation bundle as artifacts) and registers it as the model's champion,
 * so the next training is promoted only when it beats it on the same data. When the alias
 * is already held, the run is recorded and left to `deno task promote`'s policy.
 *
 * @module
 */
import { parseFeatureStats } from "../data/feature_stats.ts";
import { registerPromotion, type RegistryTarget } from "../review/promotion.ts";
import { readPipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import { pythonStr } from "../torch/py_value.ts";
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import { getOrCreateExperiment } from "../tracking/tracking_store.ts";
import { attachEvaluation } from "./attach_evaluation.ts";
import { evaluationName, runEvaluateJob } from "./evaluate_job_deno.ts";

/** What to import and where to record it. */
export interface ImportJobSpec {
  /** The pipeline's checkpoint, e.g. `artifacts/best.pt`. */
  readonly checkpoint: string;
  /** Validation data to evaluate it on (the data later runs validate on). */
  readonly npz: string;
  /** "" = the `feature_stats.json` beside the `.pt`, else artifacts/feature_stats.json. */
  readonly featureStats: string;
  /** Where the evaluation bundle is written. */
  readonly outputDir: string;
  readonly experiment: string;
  /** "" = `imported-<file name without .pt>`. */
  readonly runName: string;
  readonly registry: RegistryTarget;
  readonly user: string;
  /** Why; "" = "imported from the PyTorch pipeline". */
  readonly reason: string;
  readonly device: string;
  readonly batchSize: number;
  readonly nBins: number;
  /** "" = `MLFLOW_TRACKING_URI`, else `./mlruns`. */
  readonly mlflowTrackingUri: string;
}

/** What {@link runImportJob} did. */
export interface ImportJobResult {
  readonly runId: string;
  readonly runName: string;
  readonly experimentId: string;
  readonly valMacroF1: number;
  readonly baselineMacroF1: number;
  /** The version registered under the alias; null when the alias was already held. */
  readonly version: string | null;
  /** The alias holder that kept it, when one did. */
  readonly heldBy: { readonly version: string; readonly runId: string } | null;
  readonly location: string;
}

/** Runs the import; throws naming the file or setting on bad input. */
export async function runImportJob(
  spec: ImportJobSpec,
  options: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly log?: (line: string) => void;
    readonly clock?: () => number;
  } = {},
): Promise<ImportJobResult> {
  const log = options.log ?? (() => {});
  const clock = options.clock ?? Date.now;
  const bytes = await Deno.readFile(spec.checkpoint).catch((cause) => {
    throw new Error(`Cannot read --checkpoint ${spec.checkpoint}: ${cause.message}`, { cause });
  });
  const ckpt = readPipelineCheckpoint(bytes);
  const { bundle } = await runEvaluateJob({
    checkpoint: spec.checkpoint,
    npz: spec.npz,
    featureStats: spec.featureStats,
    xKey: "",
    yKey: "",
    lengthsKey: "",
    predictions: "",
    task: "",
    outputDir: spec.outputDir,
    batchSize: spec.batchSize,
    device: spec.device,
    nBins: spec.nBins,
    mlflowRunId: "",
    mlflowExperiment: "",
    mlflowTrackingUri: "",
    force: false,
  }, { log, env: options.env });
  const s = bundle.summary;
  log(`evaluated on ${spec.npz}: macro-F1 ${s.macro_f1.toFixed(4)}, cost ${s.total_cost}`);

  const store = await openTrackingStore(spec.mlflowTrackingUri, options.env ?? Deno.env.toObject());
  const held = await store.getModelVersionByAlias(spec.registry.model, spec.registry.alias);
  const experimentId = await getOrCreateExperiment(store, spec.experiment);
  const file = spec.checkpoint.split("/").pop()!;
  const runName = spec.runName || `imported-${file.replace(/\.pth?$/, "")}`;
  const run = await store.createRun({
    experimentId,
    runName,
    userId: spec.user,
    startTime: clock(),
    tags: {
      "mlflow.runName": runName,
      "mlflow.user": spec.user,
      "mlflow.source.name": "cli/import.ts",
      "mlflow.source.type": "LOCAL",
      "import.source": "PyTorch pipeline checkpoint",
      "import.file": file,
      "import.epoch": String(ckpt.epoch),
    },
  });
  // The pipeline's params: its args as its log_params wrote them; unset ones and the
  // tracking URI left out.
  const params: Record<string, string> = {};
  for (const [key, value] of ckpt.args) {
    const scalar = value === null ||
      ["boolean", "bigint", "number", "string"].includes(typeof value);
    if (!scalar || value === null || key === "mlflow_tracking_uri") continue;
    params[key] = pythonStr(value as boolean | bigint | number | string).slice(0, 6000);
  }
  const timestamp = clock();
  await store.logBatch(run.runId, {
    params,
    metrics: [
      { key: "val_macro_f1", value: s.macro_f1, timestamp, step: ckpt.epoch },
      ...(ckpt.bestValF1 === null
        ? []
        : [{ key: "pipeline_best_val_f1", value: ckpt.bestValF1, timestamp, step: ckpt.epoch }]),
    ],
  });
  await store.uploadArtifact(run.runId, file, bytes);
  const statsPath = spec.featureStats ||
    `${
      spec.checkpoint.includes("/")
        ? spec.checkpoint.slice(0, spec.checkpoint.lastIndexOf("/"))
        : "."
    }/feature_stats.json`;
  try {
    const stats = await Deno.readTextFile(statsPath);
    parseFeatureStats(stats);
    await store.uploadArtifact(run.runId, "feature_stats.json", new TextEncoder().encode(stats));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const attached = await attachEvaluation(
    store,
    run.runId,
    evaluationName({ predictions: "", npz: spec.npz }),
    bundle,
    clock,
  );
  await store.updateRun(run.runId, { status: "FINISHED", endTime: clock() });
  log(`MLflow: run ${runName} (${run.runId}) with ${attached.folder}/ at ${store.location}`);

  const result = {
    runId: run.runId,
    runName,
    experimentId,
    valMacroF1: s.macro_f1,
    baselineMacroF1: s.baseline_macro_f1,
    location: store.location,
  };
  if (held) {
    return { ...result, version: null, heldBy: { version: held.version, runId: held.runId } };
  }
  const fullRun = await store.getRun(run.runId);
  const evidence = {
    runId: run.runId,
    runName,
    metric: "val_macro_f1" as const,
    value: s.macro_f1,
    baseline: s.baseline_macro_f1,
    bundlePath: attached.folder,
    bundleFiles: [...bundle.files.keys()],
    inspected: true,
    champion: null,
  };
  const version = await registerPromotion(
    store,
    { run: fullRun, evidence },
    {
      promote: true,
      checks: [{ criterion: "imported champion", passed: true, detail: "no champion yet" }],
    },
    file,
    spec.registry,
    {
      user: spec.user,
      when: new Date(clock()).toISOString(),
      reason: spec.reason || "imported from the PyTorch pipeline",
    },
  );
  return { ...result, version, heldBy: null };
}
