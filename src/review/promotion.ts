/**
 * The promotion policy on top of the tracking interface: the evidence a run's promotion is
 * judged on (the best value of its task's promotion metric, val macro-F1 by default; its
 * evaluation bundle; the current champion), the run's
 * best checkpoint, and the registry record of a promotion (version, alias, who/when/why).
 *
 * @module
 */
import {
  listArtifactFiles,
  type MlflowRun,
  type TrackingStore,
} from "../tracking/tracking_store.ts";
import { accuracy, macroF1, totalCost } from "../metrics/metrics.ts";
import { lowerIsBetter, PROMOTION_METRICS, type PromotionMetric } from "../metrics/task.ts";
import {
  baselineKey,
  type ChampionInfo,
  type PromotionDecision,
  type PromotionEvidence,
} from "./promotion_decision.ts";
import { bestMetricValue, PROMOTED_VERSION_TAG } from "./run_review.ts";

/** Where the registry keeps the champion. */
export interface RegistryTarget {
  /** Registered model name. */
  model: string;
  /** Alias moved on promotion (default `champion`). */
  alias: string;
}

/** The evidence plus what applying a promotion needs. */
export interface PromotionCase {
  run: MlflowRun;
  evidence: PromotionEvidence;
}

/**
 * Where a run's `best` checkpoint is looked for, in order: our checkpoint folders, then the
 * PyTorch pipeline's `best.pt` at the artifacts' root.
 */
export const CHECKPOINT_ARTIFACT_CANDIDATES: readonly string[] = Object.freeze([
  "checkpoints/best",
  "best",
  "checkpoint/best",
  "best.pt",
]);

/**
 * The always-majority baseline of a `confusion_matrix.csv` (rows = true classes: the
 * pipeline's bare `%d` matrix, or one with a header row and a label column), for a bundle
 * whose summary has none (the pipeline's): the metric of predicting the most frequent true
 * class (the lowest index on a tie) for every window, as `summary_metrics.json`'s
 * `baseline_*`. `val_cost` needs `costMatrix`. Null when the text is not a square matrix of
 * counts.
 */
export function majorityBaseline(
  csv: string,
  metric: PromotionMetric,
  costMatrix: readonly (readonly number[])[] | null = null,
): number | null {
  let rows = csv.trim().split(/\r?\n/).map((l) => l.split(/[,\s]+/).filter((c) => c !== ""));
  if (rows.length > 0 && rows[0].some((c) => !/^\d+$/.test(c))) {
    rows = rows.slice(1).map((r) => r.slice(1)); // header row and label column
  }
  const k = rows.length;
  if (k < 2 || rows.some((r) => r.length !== k || r.some((c) => !/^\d+$/.test(c)))) return null;
  const counts = rows.map((r) => r.reduce((a, c) => a + Number(c), 0));
  if (counts.every((c) => c === 0)) return null;
  const majority = counts.indexOf(Math.max(...counts));
  const cm = counts.map((c) => counts.map((_, j) => (j === majority ? c : 0)));
  if (metric === "val_macro_f1") return macroF1(cm);
  if (metric === "val_acc") return accuracy(cm);
  return costMatrix ? totalCost(cm, costMatrix) : null;
}

const decoder = new TextDecoder();

/**
 * Finds the run's evaluation bundle: `evaluations/<name>/` folders holding a
 * `summary_metrics.json` (one whose name starts with "val" preferred), or `evaluations/`
 * itself. Returns the folder and its file names, or null.
 */
export async function findEvaluationBundle(
  store: TrackingStore,
  runId: string,
): Promise<{ path: string; files: string[] } | null> {
  const entries = await store.listArtifacts(runId, "evaluations");
  const folders: { path: string; files: string[] }[] = [];
  const top = entries.filter((e) => !e.isDir).map((e) => e.path.slice("evaluations/".length));
  if (top.includes("summary_metrics.json")) folders.push({ path: "evaluations", files: top });
  for (const dir of entries.filter((e) => e.isDir)) {
    const files = (await store.listArtifacts(runId, dir.path)).filter((e) => !e.isDir).map((e) =>
      e.path.slice(dir.path.length + 1)
    );
    if (files.includes("summary_metrics.json")) folders.push({ path: dir.path, files });
  }
  if (folders.length === 0) return null;
  const isVal = (p: string) => /^val/i.test(p.split("/").pop() ?? "");
  return folders.find((f) => isVal(f.path)) ?? folders[0];
}

/** The run's promotion metric: its `promotion_metric` param, else `val_macro_f1`. */
export function runPromotionMetric(run: MlflowRun): PromotionMetric {
  const metric = run.params.promotion_metric ?? "val_macro_f1";
  if (!(PROMOTION_METRICS as readonly string[]).includes(metric)) {
    throw new RangeError(
      `Cannot judge run ${run.info.runId}: its promotion_metric param "${metric}" is not one ` +
        `of ${PROMOTION_METRICS.join(", ")}`,
    );
  }
  return metric as PromotionMetric;
}

/** Collects the promotion evidence for a run (inspected = false until the user confirms). */
export async function gatherPromotionEvidence(
  store: TrackingStore,
  run: MlflowRun,
  registry: RegistryTarget,
): Promise<PromotionCase> {
  const { runId, runName } = run.info;
  const metric = runPromotionMetric(run);
  const lower = lowerIsBetter(metric);
  const value = bestMetricValue(await store.getMetricHistory(runId, metric), lower);
  const bundle = await findEvaluationBundle(store, runId);
  let baseline: number | null = null;
  if (bundle) {
    const summary = JSON.parse(
      decoder.decode(await store.downloadArtifact(runId, `${bundle.path}/summary_metrics.json`)),
    );
    const b = summary[baselineKey(metric)];
    if (typeof b === "number") baseline = b;
    else if (bundle.files.includes("confusion_matrix.csv")) {
      // A pipeline bundle: its summary has no baseline, its confusion matrix gives it.
      baseline = majorityBaseline(
        decoder.decode(await store.downloadArtifact(runId, `${bundle.path}/confusion_matrix.csv`)),
        metric,
      );
    }
  }
  let champion: ChampionInfo | null = null;
  const current = await store.getModelVersionByAlias(registry.model, registry.alias);
  if (current) {
    let runName = current.runId;
    let championValue: number | null = null;
    let classNames: string | null = null;
    if (current.runId) {
      const champRun = await store.getRun(current.runId);
      runName = champRun.info.runName || current.runId;
      championValue = bestMetricValue(await store.getMetricHistory(current.runId, metric), lower);
      classNames = champRun.params.class_names ?? null;
    }
    champion = {
      runId: current.runId,
      runName,
      version: current.version,
      value: championValue,
      classNames,
    };
  }
  return {
    run,
    evidence: {
      runId,
      runName,
      metric,
      value,
      baseline,
      classNames: run.params.class_names ?? null,
      bundlePath: bundle?.path ?? null,
      bundleFiles: bundle?.files ?? [],
      inspected: false,
      champion,
    },
  };
}

/**
 * Reads every file of the run's best checkpoint: `artifactPath` when given, else the first
 * of {@link CHECKPOINT_ARTIFACT_CANDIDATES} that exists. Keys are relative to that folder.
 */
export async function downloadCheckpointArtifact(
  store: TrackingStore,
  runId: string,
  artifactPath?: string,
): Promise<{ path: string; files: Map<string, Uint8Array> }> {
  const candidates = artifactPath ? [artifactPath] : CHECKPOINT_ARTIFACT_CANDIDATES;
  for (const path of candidates) {
    if (path.endsWith(".pt")) {
      // A single file (the pipeline's best.pt): present when its folder lists it.
      const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      const listed = await store.listArtifacts(runId, parent);
      if (!listed.some((e) => !e.isDir && e.path === path)) continue;
      const name = path.slice(path.lastIndexOf("/") + 1);
      return { path, files: new Map([[name, await store.downloadArtifact(runId, path)]]) };
    }
    const files = await listArtifactFiles(store, runId, path);
    if (files.length === 0) continue;
    const out = new Map<string, Uint8Array>();
    for (const f of files) {
      out.set(f.slice(path.length + 1), await store.downloadArtifact(runId, f));
    }
    return { path, files: out };
  }
  const top = (await store.listArtifacts(runId, "")).map((e) => e.path + (e.isDir ? "/" : ""));
  throw new RangeError(
    `Cannot find the best checkpoint of run ${runId}: none of ${candidates.join(", ")} ` +
      `holds files; the run's artifacts are [${
        top.join(", ")
      }]; name the checkpoint's artifact folder`,
  );
}

/**
 * Where a person finds artifact `path` of a run: on a file store the file on disk (its
 * artifact URI is a `file://` URI); on a server, "artifact <path> of run <id>" with the
 * MLflow command that downloads it (the artifact is not on this disk).
 */
export function describeArtifact(
  run: Pick<MlflowRun["info"], "runId" | "artifactUri">,
  path: string,
  storeLocation: string,
): string {
  const root = run.artifactUri.replace(/\/+$/, "");
  if (root.startsWith("file://")) return `${decodeURIComponent(root.slice(7))}/${path}`;
  const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : path;
  return `artifact ${path} of run ${run.runId} at ${storeLocation} (not on this disk: open the ` +
    `run's Artifacts tab in the MLflow UI, or download it with MLFLOW_TRACKING_URI=` +
    `${storeLocation} mlflow artifacts download --run-id ${run.runId} --artifact-path ` +
    `${folder} --dst-path <dir>)`;
}

/** Who, when and why a promotion happened. */
export interface PromotionRecord {
  user: string;
  /** ISO 8601 time. */
  when: string;
  reason: string;
}

/**
 * Registers a model version for the run's checkpoint, moves the alias to it and tags the
 * version (who/when/why and the numbers) and the run. Returns the new version. A run with a
 * logged model (MLflow 3) registers it (`models:/<model id>`, as `mlflow.register_model`
 * does, so the version links to the model); an older run registers its checkpoint folder.
 */
export async function registerPromotion(
  store: TrackingStore,
  promotion: PromotionCase,
  decision: PromotionDecision,
  checkpointPath: string,
  registry: RegistryTarget,
  record: PromotionRecord,
): Promise<string> {
  const { runId, artifactUri } = promotion.run.info;
  if (!decision.promote) {
    throw new Error(
      `Cannot register run ${runId}: the promotion criteria failed ` +
        `(${decision.checks.filter((c) => !c.passed).map((c) => c.criterion).join("; ")})`,
    );
  }
  const e = promotion.evidence;
  const metric = e.metric ?? "val_macro_f1";
  const tags: Record<string, string> = {
    promoted_by: record.user,
    promoted_at: record.when,
    promotion_reason: record.reason,
    promotion_metric: metric,
    [metric]: String(e.value),
    [baselineKey(metric)]: String(e.baseline),
    evaluation_bundle: e.bundlePath ?? "",
    previous_champion_version: e.champion?.version ?? "",
    previous_champion_run_id: e.champion?.runId ?? "",
  };
  const model = [...(promotion.run.outputs ?? [])].sort((a, b) => b.step - a.step)[0];
  const source = model
    ? `models:/${model.modelId}`
    : `${artifactUri.replace(/\/+$/, "")}/${checkpointPath}`;
  const { version } = await store.createModelVersion(
    registry.model,
    source,
    runId,
    model ? { modelId: model.modelId } : {},
  );
  for (const [key, value] of Object.entries(tags)) {
    await store.setModelVersionTag(registry.model, version, key, value);
  }
  if (record.reason !== "") {
    await store.updateModelVersionDescription(registry.model, version, record.reason);
  }
  await store.setRegisteredModelAlias(registry.model, registry.alias, version);
  await store.logBatch(runId, {
    tags: {
      [PROMOTED_VERSION_TAG]: version,
      "promotion.promoted_at": record.when,
      "promotion.promoted_by": record.user,
    },
  });
  return version;
}
