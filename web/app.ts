/**
 * The browser demo page: wires the DOM to the same core the CLI runs (data, model, training
 * loop, metrics, checkpoints, MLflow REST store). Bundled for the browser by
 * `web/server_deno.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import {
  parseDevice,
  probeWebGpuAdapter,
  type RuntimeInfo,
  selectBackend,
} from "../src/runtime/backend.ts";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from "../src/train/config.ts";
import type { CheckpointFiles, EpochMetrics } from "../src/train/hooks.ts";
import { train } from "../src/train/train.ts";
import { readCheckpoint, restoreClassifier } from "../src/train/checkpoint.ts";
import { predictProbabilities } from "../src/train/evaluate.ts";
import {
  argmaxDecision,
  classificationReport,
  type ConfusionMatrix,
  confusionMatrix,
} from "../src/eval/metrics.ts";
import {
  type DemoDataset,
  generateDemoDataset,
  loadDemoDataset,
  summarizeSplit,
} from "./_dataset.ts";
import { downloadBytes, zipFolder } from "./_downloads.ts";
import { renderLineChart } from "./_line_chart.ts";
import { chooseLstmKernel } from "../src/model/lstm_impl.ts";
import { type DemoMlflowRun, startDemoMlflowRun } from "./_mlflow.ts";
import { combineHooks } from "../src/train/combine_hooks.ts";
import type { TrainHooks } from "../src/train/hooks.ts";
import { metricsCsv } from "../src/train/metrics_csv.ts";
import { renderConfusionMatrix, renderPerClassTable } from "./_results_view.ts";

/** What the page exposes for tests and curious users (`globalThis.componentXDemo`). */
export interface DemoState {
  status: "idle" | "loading" | "data" | "training" | "done" | "stopped" | "error";
  runtime: RuntimeInfo | null;
  epochs: EpochMetrics[];
  error: string | null;
  log: string[];
  /** Which checkpoint the results and the download use. */
  resultsFrom: { kind: "best" | "last"; epoch: number } | null;
  /** Softmax probabilities of every val row under that checkpoint (row order). */
  valProbabilities: number[][] | null;
  confusion: ConfusionMatrix | null;
  /** Milliseconds from pressing Train to the last epoch's end. */
  trainMillis: number | null;
  /** Which LSTM implementation the last training ran. */
  lstmPath: string | null;
  /** The MLflow run this training logged to, when "log to MLflow" was on. */
  mlflow:
    | { runId: string; runName: string; experimentId: string; sent: number; spooled: number }
    | null;
}

const state: DemoState = {
  status: "idle",
  runtime: null,
  epochs: [],
  error: null,
  log: [],
  resultsFrom: null,
  valProbabilities: null,
  confusion: null,
  trainMillis: null,
  lstmPath: null,
  mlflow: null,
};
/** Rows per WebGPU batch window are rounded up to this, so fewer shaders get compiled. */
const STEP_MULTIPLE = 8;

let dataset: DemoDataset | null = null;
let controller: AbortController | null = null;
let mlflowAvailable = false;
let checkpoints: Partial<Record<"best" | "last", CheckpointFiles>> = {};
(globalThis as unknown as { componentXDemo: DemoState }).componentXDemo = state;

function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`Cannot find element #${id} in index.html`);
  return element;
}

function log(line: string): void {
  const stamped = `${new Date().toISOString().slice(11, 19)} ${line}`;
  state.log.push(stamped);
  const pre = $("log");
  pre.textContent += stamped + "\n";
  pre.scrollTop = pre.scrollHeight;
  console.log(line);
}

function setStatus(status: DemoState["status"], text: string): void {
  state.status = status;
  const element = $("status");
  element.dataset.state = status;
  element.textContent = text;
}

const form = $("params") as HTMLFormElement;

function field(name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

/** Puts the train CLI's defaults into the form. */
function fillDefaults(config: TrainConfig): void {
  field("hiddenSize").value = String(config.hiddenSize);
  field("numLayers").value = String(config.numLayers);
  field("bidirectional").checked = config.bidirectional;
  field("epochs").value = String(config.epochs);
  field("batchSize").value = String(config.batchSize);
  field("lr").value = String(config.lr);
  field("weightedLoss").checked = config.weightedLoss;
  field("seed").value = String(config.seed);
  field("mlflow").checked = false;
  field("mlflowExperiment").value = config.mlflowExperiment;
}

function positiveInt(name: string): number {
  const value = Number(field(name).value);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot use ${name} ${JSON.stringify(field(name).value)}: expected a positive integer`,
    );
  }
  return value;
}

/** Reads the form into a full `TrainConfig` (the CLI's defaults for everything else). */
function readConfig(): TrainConfig {
  const lr = Number(field("lr").value);
  if (!(lr > 0)) {
    throw new RangeError(
      `Cannot use learning rate ${JSON.stringify(field("lr").value)}: expected a number > 0`,
    );
  }
  return Object.freeze({
    ...DEFAULT_TRAIN_CONFIG,
    trainNpz: "(browser)",
    valNpz: "(browser)",
    featureStats: "(browser)",
    outputDir: "(browser)",
    hiddenSize: positiveInt("hiddenSize"),
    numLayers: positiveInt("numLayers"),
    bidirectional: field("bidirectional").checked,
    epochs: positiveInt("epochs"),
    batchSize: positiveInt("batchSize"),
    lr,
    weightedLoss: field("weightedLoss").checked,
    seed: Number(field("seed").value) || 0,
    device: field("device").value,
    mlflow: field("mlflow").checked,
    mlflowExperiment: field("mlflowExperiment").value || DEFAULT_TRAIN_CONFIG.mlflowExperiment,
  });
}

function drawCharts(): void {
  renderLineChart($("loss-chart") as unknown as SVGSVGElement, [
    { name: "train loss", color: "#2f6fdb", values: state.epochs.map((m) => m.train_loss) },
    { name: "val loss", color: "#e07b00", values: state.epochs.map((m) => m.val_loss) },
  ]);
  renderLineChart($("f1-chart") as unknown as SVGSVGElement, [
    { name: "val macro-F1", color: "#1f8a4c", values: state.epochs.map((m) => m.val_macro_f1) },
  ], { yMin: 0 });
}

function showBackend(info: RuntimeInfo): void {
  const badge = $("backend");
  badge.dataset.backend = info.backend;
  badge.textContent = `backend: ${info.backend}` + (info.adapter ? ` · ${info.adapter}` : "");
  badge.title = info.reason;
}

async function start(): Promise<void> {
  const config = await (await fetch("/config.json")).json() as {
    mlflow: { enabled: boolean; target: string; proxy: string };
    wasmPath: string;
  };
  setWasmPaths(config.wasmPath);
  fillDefaults(DEFAULT_TRAIN_CONFIG);
  drawCharts();
  const probe = await probeWebGpuAdapter();
  if (!probe) {
    const warning = $("webgpu-missing");
    warning.hidden = false;
    warning.textContent = "This browser offers no WebGPU adapter (navigator.gpu is missing or " +
      "requestAdapter() returned null). Training can run on the wasm backend instead (CPU, " +
      "slower): it is selected below.";
    field("device").value = "wasm";
    log("no WebGPU adapter: offering wasm");
  } else {
    log(`WebGPU adapter: ${probe.description}${probe.isFallbackAdapter ? " (software)" : ""}`);
  }
  $("mlflow-note").textContent = config.mlflow.enabled
    ? `MLflow: runs are logged to ${config.mlflow.target} through this server's /mlflow proxy.`
    : "MLflow: disabled (start the demo with --mlflow-tracking-uri to log runs).";
  mlflowAvailable = config.mlflow.enabled;
  field("mlflow").disabled = !mlflowAvailable;
  $("generate-sample").addEventListener("click", () => void generateClicked());
  $("load-files").addEventListener("click", () => void loadClicked());
  $("train").addEventListener("click", () => void trainClicked());
  $("stop").addEventListener("click", () => {
    controller?.abort();
    ($("stop") as HTMLButtonElement).disabled = true;
    log("stop requested: finishing the current step");
  });
  $("download-checkpoint").addEventListener("click", downloadCheckpoint);
  $("download-metrics").addEventListener("click", () => {
    downloadBytes("metrics.csv", metricsCsv(state.epochs), "text/csv");
  });
  log(`tfjs ${tf.version.tfjs} loaded`);
}

function fail(error: unknown, what: string): void {
  const message = error instanceof Error ? error.message : String(error);
  state.error = message;
  setStatus("error", `${what}: ${message}`);
  log(`error: ${message}`);
  console.error(error);
}

function renderSummary(data: DemoDataset): void {
  const rows = [["train", summarizeSplit(data.train)], ["val", summarizeSplit(data.val)]] as const;
  const body = rows.map(([name, s]) =>
    `<tr><th>${name}</th><td>${s.rows}</td><td>${s.steps}</td><td>${s.features}</td>` +
    `<td>${s.meanLength.toFixed(1)}</td>${s.classCounts.map((c) => `<td>${c}</td>`).join("")}</tr>`
  ).join("");
  const k = data.train.numClasses;
  const summary = $("data-summary");
  summary.hidden = false;
  summary.innerHTML = `<p>${escapeHtml(data.source)}; feature stats: ` +
    `${escapeHtml(data.statsSource)}.</p>` +
    `<table class="numbers" id="summary-table"><thead><tr><th></th><th>rows</th>` +
    `<th>window</th><th>features</th><th>mean valid steps</th>` +
    Array.from({ length: k }, (_, c) => `<th>class ${c}</th>`).join("") +
    `</tr></thead><tbody>${body}</tbody></table>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function dataReady(data: DemoDataset): void {
  dataset = data;
  renderSummary(data);
  setStatus("data", "Data ready: set the hyperparameters and press Train.");
  ($("train") as HTMLButtonElement).disabled = false;
  log(`data: ${data.source}`);
}

function numberInput(id: string, what: string): number {
  const value = Number(($(id) as HTMLInputElement).value);
  if (!Number.isInteger(value)) {
    throw new RangeError(`Cannot generate the sample: ${what} must be an integer`);
  }
  return value;
}

async function generateClicked(): Promise<void> {
  try {
    setStatus("loading", "Generating the sample…");
    await nextFrame();
    const started = performance.now();
    const data = generateDemoDataset({
      trainRows: numberInput("sample-train-rows", "train rows"),
      valRows: numberInput("sample-val-rows", "val rows"),
      steps: numberInput("sample-steps", "window steps"),
      seed: numberInput("sample-seed", "seed"),
    });
    log(`sample generated in ${(performance.now() - started).toFixed(0)} ms`);
    dataReady(data);
  } catch (error) {
    fail(error, "Cannot generate the sample");
  }
}

async function loadClicked(): Promise<void> {
  try {
    const pick = (id: string) => ($(id) as HTMLInputElement).files?.[0];
    const trainFile = pick("train-file");
    const valFile = pick("val-file");
    if (!trainFile || !valFile) {
      throw new TypeError("Cannot load files: pick both a train and a val .npz file");
    }
    setStatus("loading", `Reading ${trainFile.name} and ${valFile.name}…`);
    await nextFrame();
    const statsFile = pick("stats-file");
    const bytes = async (file: File) => new Uint8Array(await file.arrayBuffer());
    const data = loadDemoDataset(
      { name: trainFile.name, bytes: await bytes(trainFile) },
      { name: valFile.name, bytes: await bytes(valFile) },
      statsFile ? { name: statsFile.name, text: await statsFile.text() } : undefined,
    );
    dataReady(data);
  } catch (error) {
    fail(error, "Cannot load the files");
  }
}

/** Lets the browser paint and handle input. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function addEpochRow(m: EpochMetrics): void {
  const table = $("epochs-table") as HTMLTableElement;
  table.hidden = false;
  const cells = [
    String(m.epoch),
    m.train_loss.toFixed(4),
    m.train_acc.toFixed(3),
    m.val_loss.toFixed(4),
    m.val_acc.toFixed(3),
    m.val_macro_f1.toFixed(4),
    String(m.val_cost),
    m.lr.toExponential(2),
    m.epoch_seconds.toFixed(1),
  ];
  table.tBodies[0].insertAdjacentHTML(
    "beforeend",
    `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`,
  );
}

function setTraining(on: boolean): void {
  ($("train") as HTMLButtonElement).disabled = on;
  ($("stop") as HTMLButtonElement).disabled = !on;
  for (const id of ["generate-sample", "load-files"]) ($(id) as HTMLButtonElement).disabled = on;
  for (const element of Array.from(form.elements)) {
    (element as HTMLInputElement).disabled = on;
  }
  if (!on) field("mlflow").disabled = !mlflowAvailable;
}

async function trainClicked(): Promise<void> {
  if (!dataset) return;
  const data = dataset;
  let config: TrainConfig;
  // Synchronously, so nobody reads the previous run's "done" after this click.
  setStatus("training", "Starting…");
  ($("train") as HTMLButtonElement).disabled = true;
  try {
    const fromForm = readConfig();
    // Report (read back, and yield to the page) about 25 times per epoch unless set.
    const steps = Math.ceil(data.train.size / fromForm.batchSize);
    const logInterval = field("logInterval").value === ""
      ? Math.max(1, Math.round(steps / 25))
      : positiveInt("logInterval");
    config = Object.freeze({ ...fromForm, logInterval });
    const runtime = await selectBackend(parseDevice(config.device));
    state.runtime = runtime;
    showBackend(runtime);
    log(runtime.reason);
    state.lstmPath =
      chooseLstmKernel(config.lstmImpl, config.hiddenSize, runtime.backend).description;
    log(`LSTM: ${state.lstmPath}`);
  } catch (error) {
    fail(error, "Cannot start training");
    ($("train") as HTMLButtonElement).disabled = false;
    return;
  }
  state.epochs = [];
  state.error = null;
  state.mlflow = null;
  state.valProbabilities = null;
  state.confusion = null;
  state.resultsFrom = null;
  checkpoints = {};
  ($("epochs-table") as HTMLTableElement).tBodies[0].innerHTML = "";
  $("results-card").hidden = true;
  drawCharts();
  const progress = $("progress") as HTMLProgressElement;
  progress.value = 0;
  controller = new AbortController();
  setTraining(true);
  setStatus("training", `Training on ${state.runtime!.backend}…`);
  log(`config: ${JSON.stringify(config)}`);
  const started = performance.now();
  let totalSteps = 1;
  try {
    const pageHooks: TrainHooks = {
      onStart({ stepsPerEpoch }) {
        totalSteps = stepsPerEpoch * config.epochs;
        progress.max = totalSteps;
        log(`${stepsPerEpoch} steps per epoch, ${config.epochs} epochs`);
      },
      async onStep(p) {
        const done = (p.epoch - 1) * p.stepsPerEpoch + p.step;
        progress.value = done;
        const perStep = (performance.now() - started) / 1000 / done;
        setStatus(
          "training",
          `epoch ${p.epoch}/${config.epochs} · step ${p.step}/${p.stepsPerEpoch} · ` +
            `loss ${p.loss.toFixed(4)} · ETA ${Math.round(perStep * (totalSteps - done))} s`,
        );
        await nextFrame();
      },
      async onEpochEnd(m, { isBest }) {
        state.epochs.push(m);
        addEpochRow(m);
        drawCharts();
        log(
          `epoch ${m.epoch}: train_loss ${m.train_loss.toFixed(4)} val_loss ` +
            `${m.val_loss.toFixed(4)} val_macro_f1 ${m.val_macro_f1.toFixed(4)} ` +
            `(${m.epoch_seconds.toFixed(1)} s)${isBest ? " best" : ""}`,
        );
        await nextFrame();
      },
      onCheckpoint(c) {
        checkpoints[c.kind] = c;
      },
    };
    let mlflowRun: DemoMlflowRun | null = null;
    if (config.mlflow) {
      mlflowRun = await startDemoMlflowRun(config, {
        proxyUri: `${location.origin}/mlflow`,
        runtime: state.runtime!,
        windowSize: data.train.steps,
        dataSource: data.source,
        finalArtifacts: () => ({
          "metrics.csv": new TextEncoder().encode(metricsCsv(state.epochs)),
          "feature_stats.json": new TextEncoder().encode(data.featureStatsJson),
        }),
        onWarning: (line) => log(`mlflow: ${line}`),
      });
      const { runId, runName, experimentId } = mlflowRun;
      state.mlflow = { runId, runName, experimentId, sent: 0, spooled: 0 };
      log(
        `mlflow: run ${mlflowRun.runName} (${mlflowRun.runId}) in experiment ${mlflowRun.experimentId}`,
      );
    }
    const hooks = mlflowRun ? combineHooks([pageHooks, mlflowRun.logger.hooks]) : pageHooks;
    const result = await train(
      config,
      {
        train: data.train,
        val: data.val,
        featureStatsJson: data.featureStatsJson,
      },
      hooks,
      { signal: controller.signal, stepMultiple: STEP_MULTIPLE },
    );
    if (mlflowRun) {
      const summary = mlflowRun.logger.summary();
      state.mlflow = { ...state.mlflow!, sent: summary.sent, spooled: summary.spooled };
      log(
        `mlflow: ${summary.sent} records sent` +
          (summary.spooled ? `, ${summary.spooled} NOT sent (server unreachable)` : ""),
      );
    }
    state.trainMillis = performance.now() - started;
    log(`training ${result.status.toLowerCase()} in ${(state.trainMillis / 1000).toFixed(1)} s`);
    await showResults(data, config);
    const stopped = result.status === "KILLED";
    setStatus(
      stopped ? "stopped" : "done",
      `${stopped ? "Stopped" : "Done"}: ${state.epochs.length} epoch(s) on ` +
        `${state.runtime!.backend} in ${(state.trainMillis / 1000).toFixed(1)} s; best val ` +
        `macro-F1 ${result.bestValF1.toFixed(4)}.`,
    );
  } catch (error) {
    fail(error, "Training failed");
  } finally {
    controller = null;
    setTraining(false);
  }
}

/** Reloads the best checkpoint (else last) and shows its validation results. */
async function showResults(data: DemoDataset, config: TrainConfig): Promise<void> {
  const chosen = checkpoints.best ?? checkpoints.last;
  if (!chosen) {
    log("no checkpoint was written: nothing to evaluate");
    return;
  }
  const model = restoreClassifier(readCheckpoint(chosen.files));
  let probabilities: Float32Array[];
  try {
    probabilities = await predictProbabilities(model, data.val, {
      batchSize: config.batchSize,
      stepMultiple: STEP_MULTIPLE,
    });
  } finally {
    model.dispose();
  }
  const predictions = argmaxDecision(probabilities);
  const confusion = confusionMatrix(data.val.labels, predictions, data.val.numClasses);
  state.resultsFrom = { kind: chosen.kind, epoch: chosen.epoch };
  state.valProbabilities = probabilities.map((p) => Array.from(p));
  state.confusion = confusion;
  renderConfusionMatrix($("confusion") as HTMLTableElement, confusion);
  renderPerClassTable($("per-class") as HTMLTableElement, classificationReport(confusion));
  $("results-which").textContent =
    `(validation set, ${chosen.kind} checkpoint of epoch ${chosen.epoch})`;
  $("results-card").hidden = false;
}

function downloadCheckpoint(): void {
  if (!dataset) return;
  const files: Record<string, Uint8Array> = {};
  for (const kind of ["best", "last"] as const) {
    const c = checkpoints[kind];
    if (!c) continue;
    for (const [name, bytes] of Object.entries(c.files)) files[`${kind}/${name}`] = bytes;
  }
  const encoder = new TextEncoder();
  files["metrics.csv"] = encoder.encode(metricsCsv(state.epochs));
  files["feature_stats.json"] = encoder.encode(dataset.featureStatsJson);
  Object.assign(files, dataset.npzFiles);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  downloadBytes(`component-x-demo-${stamp}.zip`, zipFolder(files), "application/zip");
}

start().catch((error) => {
  state.error = (error as Error).message;
  setStatus("error", `Cannot start the demo: ${(error as Error).message}`);
});
