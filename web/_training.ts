/**
 * The page's training run: reads the form, picks the backend, trains with the same loop
 * as the CLI (the page's hooks draw the progress, the charts and the epoch table; MLflow
 * subscribes when asked), then shows the best checkpoint's validation results.
 *
 * @module
 */
import { parseDevice, selectBackend } from "../src/runtime/backend.ts";
import { argmaxDecision, classificationReport, confusionMatrix } from "../src/metrics/metrics.ts";
import { chooseLstmKernel } from "../src/model/lstm_impl.ts";
import type { TrackedTraining } from "../src/jobs/tracked_training.ts";
import { readCheckpoint, restoreClassifier } from "../src/train/checkpoint.ts";
import { combineHooks } from "../src/train/combine_hooks.ts";
import { predictProbabilities } from "../src/train/validate.ts";
import type { EpochMetrics, TrainHooks } from "../src/train/hooks.ts";
import { metricsCsv } from "../src/train/metrics_csv.ts";
import { train } from "../src/train/train.ts";
import type { DemoDataset } from "./_dataset.ts";
import { field, formInputs, type FormSettings, readForm } from "./_form.ts";
import { renderLineChart } from "./_line_chart.ts";
import { startDemoMlflowRun } from "./_mlflow.ts";
import { $, type DemoPage, fail, log, nextFrame, setStatus } from "./_page.ts";
import { renderConfusionMatrix, renderPerClassTable } from "./_results_view.ts";

/** Rows per WebGPU batch window are rounded up to this, so fewer shaders get compiled. */
const STEP_MULTIPLE = 8;

/** Redraws the loss and macro-F1 charts from the epochs so far. */
export function drawCharts(page: DemoPage): void {
  const epochs = page.state.epochs;
  renderLineChart($("loss-chart") as unknown as SVGSVGElement, [
    { name: "train loss", color: "#2f6fdb", values: epochs.map((m) => m.train_loss) },
    { name: "val loss", color: "#e07b00", values: epochs.map((m) => m.val_loss) },
  ]);
  renderLineChart($("f1-chart") as unknown as SVGSVGElement, [
    { name: "val macro-F1", color: "#1f8a4c", values: epochs.map((m) => m.val_macro_f1) },
  ], { yMin: 0 });
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
    m.val_cost === undefined ? "-" : String(m.val_cost),
    m.lr.toExponential(2),
    m.epoch_seconds.toFixed(1),
  ];
  table.tBodies[0].insertAdjacentHTML(
    "beforeend",
    `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`,
  );
}

/** Enables the inputs while idle, the Stop button while training. */
function setTraining(page: DemoPage, on: boolean): void {
  ($("train") as HTMLButtonElement).disabled = on;
  ($("stop") as HTMLButtonElement).disabled = !on;
  for (const id of ["generate-sample", "load-files"]) ($(id) as HTMLButtonElement).disabled = on;
  for (const element of formInputs()) element.disabled = on;
  if (!on) field("mlflow").disabled = !page.mlflowAvailable;
}

/** Reads the form and selects the backend; records both on the page. */
async function prepare(page: DemoPage, data: DemoDataset): Promise<FormSettings> {
  const settings = readForm(data.train.size);
  const runtime = await selectBackend(parseDevice(settings.device));
  page.state.runtime = runtime;
  const badge = $("backend");
  badge.dataset.backend = runtime.backend;
  badge.textContent = `backend: ${runtime.backend}` +
    (runtime.adapter ? ` · ${runtime.adapter}` : "");
  badge.title = runtime.reason;
  log(page, runtime.reason);
  const { model } = settings.config;
  page.state.lstmPath =
    chooseLstmKernel(model.lstmImpl, model.hiddenSize, runtime.backend).description;
  log(page, `LSTM: ${page.state.lstmPath}`);
  return settings;
}

/** Clears the last run's results from the state and the page. */
function reset(page: DemoPage): void {
  Object.assign(page.state, {
    epochs: [],
    error: null,
    mlflow: null,
    valProbabilities: null,
    temperature: null,
    confusion: null,
    resultsFrom: null,
  });
  page.checkpoints = {};
  ($("epochs-table") as HTMLTableElement).tBodies[0].innerHTML = "";
  $("results-card").hidden = true;
  drawCharts(page);
}

/** The page's subscribers: progress bar and ETA, epoch table and charts, checkpoints. */
function pageHooks(page: DemoPage, epochs: number, started: number): TrainHooks {
  const progress = $("progress") as HTMLProgressElement;
  progress.value = 0;
  let totalSteps = 1;
  return {
    onStart({ stepsPerEpoch }) {
      totalSteps = stepsPerEpoch * epochs;
      progress.max = totalSteps;
      log(page, `${stepsPerEpoch} steps per epoch, ${epochs} epochs`);
    },
    async onStep(p) {
      const done = (p.epoch - 1) * p.stepsPerEpoch + p.step;
      progress.value = done;
      const perStep = (performance.now() - started) / 1000 / done;
      setStatus(
        page,
        "training",
        `epoch ${p.epoch}/${epochs} · step ${p.step}/${p.stepsPerEpoch} · ` +
          `loss ${p.loss.toFixed(4)} · ETA ${Math.round(perStep * (totalSteps - done))} s`,
      );
      await nextFrame();
    },
    async onEpochEnd(m, { isBest }) {
      page.state.epochs.push(m);
      addEpochRow(m);
      drawCharts(page);
      log(
        page,
        `epoch ${m.epoch}: train_loss ${m.train_loss.toFixed(4)} val_loss ` +
          `${m.val_loss.toFixed(4)} val_macro_f1 ${m.val_macro_f1.toFixed(4)} ` +
          `(${m.epoch_seconds.toFixed(1)} s)${isBest ? " best" : ""}`,
      );
      await nextFrame();
    },
    onCheckpoint(c) {
      page.checkpoints[c.kind] = c;
    },
  };
}

/** Opens the MLflow run of this training (through the demo server's proxy). */
async function startMlflow(
  page: DemoPage,
  data: DemoDataset,
  settings: FormSettings,
): Promise<TrackedTraining> {
  const run = await startDemoMlflowRun(settings.config, {
    proxyUri: `${location.origin}/mlflow`,
    experiment: settings.mlflowExperiment,
    device: settings.device,
    runtime: page.state.runtime!,
    windowSize: data.train.steps,
    dataSource: data.source,
    task: data.task,
    finalArtifacts: () => ({
      "metrics.csv": new TextEncoder().encode(metricsCsv(page.state.epochs)),
      "feature_stats.json": new TextEncoder().encode(data.featureStatsJson),
    }),
    log: (line) => log(page, `mlflow: ${line}`),
  });
  const { runId, runName, experimentId } = run;
  page.state.mlflow = { runId, runName, experimentId, sent: 0, spooled: 0 };
  return run;
}

/** The Train button: one training run from the form's settings, then its results. */
export async function trainClicked(page: DemoPage): Promise<void> {
  const data = page.dataset;
  if (!data) return;
  // Synchronously, so nobody reads the previous run's "done" after this click.
  setStatus(page, "training", "Starting…");
  ($("train") as HTMLButtonElement).disabled = true;
  let settings: FormSettings;
  try {
    settings = await prepare(page, data);
  } catch (error) {
    fail(page, error, "Cannot start training");
    ($("train") as HTMLButtonElement).disabled = false;
    return;
  }
  reset(page);
  const controller = page.controller = new AbortController();
  setTraining(page, true);
  setStatus(page, "training", `Training on ${page.state.runtime!.backend}…`);
  log(page, `config: ${JSON.stringify(settings.config)}`);
  const started = performance.now();
  try {
    const hooks = [pageHooks(page, settings.config.loop.epochs, started)];
    const mlflowRun = settings.mlflow ? await startMlflow(page, data, settings) : null;
    if (mlflowRun) hooks.push(mlflowRun.hooks);
    const result = await train(
      settings.config,
      {
        train: data.train,
        val: data.val,
        task: data.task,
        featureStatsJson: data.featureStatsJson,
      },
      combineHooks(hooks),
      {
        signal: controller.signal,
        stepMultiple: STEP_MULTIPLE,
        run: mlflowRun
          ? { runId: mlflowRun.runId, experimentId: mlflowRun.experimentId }
          : undefined,
      },
    );
    if (mlflowRun) {
      const summary = await mlflowRun.ended;
      page.state.mlflow = { ...page.state.mlflow!, sent: summary.sent, spooled: summary.spooled };
      log(
        page,
        `mlflow: ${summary.sent} records sent` +
          (summary.spooled ? `, ${summary.spooled} NOT sent (server unreachable)` : ""),
      );
    }
    const millis = page.state.trainMillis = performance.now() - started;
    log(page, `training ${result.status.toLowerCase()} in ${(millis / 1000).toFixed(1)} s`);
    await showResults(page, data, settings.config.loop.batchSize);
    const stopped = result.status === "KILLED";
    setStatus(
      page,
      stopped ? "stopped" : "done",
      `${stopped ? "Stopped" : "Done"}: ${page.state.epochs.length} epoch(s) on ` +
        `${page.state.runtime!.backend} in ${(millis / 1000).toFixed(1)} s; best val ` +
        `macro-F1 ${result.bestValF1.toFixed(4)}.`,
    );
  } catch (error) {
    fail(page, error, "Training failed");
  } finally {
    page.controller = null;
    setTraining(page, false);
  }
}

/** Reloads the best checkpoint (else last) and shows its validation results. */
async function showResults(page: DemoPage, data: DemoDataset, batchSize: number): Promise<void> {
  const chosen = page.checkpoints.best ?? page.checkpoints.last;
  if (!chosen) {
    log(page, "no checkpoint was written: nothing to evaluate");
    return;
  }
  const checkpoint = readCheckpoint(chosen.files);
  const model = restoreClassifier(checkpoint);
  // The checkpoint's temperature (fitted on this validation set) calibrates the probabilities.
  const temperature = checkpoint.temperature ?? null;
  let probabilities: Float32Array[];
  try {
    probabilities = await predictProbabilities(model, data.val, {
      batchSize,
      stepMultiple: STEP_MULTIPLE,
      temperature: temperature ?? 1,
    });
  } finally {
    model.dispose();
  }
  const predictions = argmaxDecision(probabilities);
  const confusion = confusionMatrix(data.val.labels, predictions, data.val.numClasses);
  page.state.resultsFrom = { kind: chosen.kind, epoch: chosen.epoch };
  page.state.valProbabilities = probabilities.map((p) => Array.from(p));
  page.state.temperature = temperature;
  page.state.confusion = confusion;
  const names = data.task.classNames;
  renderConfusionMatrix($("confusion") as HTMLTableElement, confusion, data.task);
  renderPerClassTable(
    $("per-class") as HTMLTableElement,
    classificationReport(confusion, names),
    names,
  );
  $("results-which").textContent =
    `(validation set, ${chosen.kind} checkpoint of epoch ${chosen.epoch}; ` +
    (temperature === null
      ? "uncalibrated probabilities)"
      : `probabilities temperature-scaled, T = ${temperature.toFixed(3)})`);
  $("results-card").hidden = false;
}
