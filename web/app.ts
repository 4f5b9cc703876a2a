/**
 * The browser demo page: wires the DOM to the same core the CLI runs (data, model, training
 * loop, metrics, checkpoints, the tracked-training job over MLflow's REST store). Bundled
 * for the browser by `web/server_deno.ts`. The training run is in `_training.ts`, the form
 * in `_form.ts`, the page's state in `_page.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { classLabel } from "../src/report/plots.ts";
import { probeWebGpuAdapter } from "../src/runtime/backend.ts";
import { metricsCsv } from "../src/train/metrics_csv.ts";
import {
  type DemoDataset,
  generateDemoDataset,
  loadDemoDataset,
  summarizeSplit,
} from "./_dataset.ts";
import { downloadBytes, zipFolder } from "./_downloads.ts";
import { field, fillDefaults } from "./_form.ts";
import {
  $,
  createDemoPage,
  type DemoPage,
  escapeHtml,
  fail,
  log,
  nextFrame,
  setStatus,
} from "./_page.ts";
import { drawCharts, trainClicked } from "./_training.ts";

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
    Array.from(
      { length: k },
      (_, c) => `<th>${escapeHtml(classLabel(c, data.task.classNames))}</th>`,
    )
      .join("") +
    `</tr></thead><tbody>${body}</tbody></table>`;
}

function dataReady(page: DemoPage, data: DemoDataset): void {
  page.dataset = data;
  renderSummary(data);
  setStatus(page, "data", "Data ready: set the hyperparameters and press Train.");
  ($("train") as HTMLButtonElement).disabled = false;
  log(page, `data: ${data.source}`);
}

function numberInput(id: string, what: string): number {
  const value = Number(($(id) as HTMLInputElement).value);
  if (!Number.isInteger(value)) {
    throw new RangeError(`Cannot generate the sample: ${what} must be an integer`);
  }
  return value;
}

async function generateClicked(page: DemoPage): Promise<void> {
  try {
    setStatus(page, "loading", "Generating the sample…");
    await nextFrame();
    const started = performance.now();
    const data = generateDemoDataset({
      trainRows: numberInput("sample-train-rows", "train rows"),
      valRows: numberInput("sample-val-rows", "val rows"),
      steps: numberInput("sample-steps", "window steps"),
      seed: numberInput("sample-seed", "seed"),
    });
    log(page, `sample generated in ${(performance.now() - started).toFixed(0)} ms`);
    dataReady(page, data);
  } catch (error) {
    fail(page, error, "Cannot generate the sample");
  }
}

async function loadClicked(page: DemoPage): Promise<void> {
  try {
    const pick = (id: string) => ($(id) as HTMLInputElement).files?.[0];
    const trainFile = pick("train-file");
    const valFile = pick("val-file");
    if (!trainFile || !valFile) {
      throw new TypeError("Cannot load files: pick both a train and a val .npz file");
    }
    setStatus(page, "loading", `Reading ${trainFile.name} and ${valFile.name}…`);
    await nextFrame();
    const statsFile = pick("stats-file");
    const bytes = async (file: File) => new Uint8Array(await file.arrayBuffer());
    const data = loadDemoDataset(
      { name: trainFile.name, bytes: await bytes(trainFile) },
      { name: valFile.name, bytes: await bytes(valFile) },
      statsFile ? { name: statsFile.name, text: await statsFile.text() } : undefined,
    );
    dataReady(page, data);
  } catch (error) {
    fail(page, error, "Cannot load the files");
  }
}

/** Downloads the last training as a zip: checkpoints, metrics.csv, stats and data. */
function downloadCheckpoint(page: DemoPage): void {
  if (!page.dataset) return;
  const files: Record<string, Uint8Array> = {};
  for (const kind of ["best", "last"] as const) {
    const c = page.checkpoints[kind];
    if (!c) continue;
    for (const [name, bytes] of Object.entries(c.files)) files[`${kind}/${name}`] = bytes;
  }
  const encoder = new TextEncoder();
  files["metrics.csv"] = encoder.encode(metricsCsv(page.state.epochs));
  files["feature_stats.json"] = encoder.encode(page.dataset.featureStatsJson);
  Object.assign(files, page.dataset.npzFiles);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  downloadBytes(`component-x-demo-${stamp}.zip`, zipFolder(files), "application/zip");
}

async function start(page: DemoPage): Promise<void> {
  const config = await (await fetch("/config.json")).json() as {
    mlflow: { enabled: boolean; target: string; proxy: string };
    wasmPath: string;
  };
  setWasmPaths(config.wasmPath);
  fillDefaults();
  drawCharts(page);
  const probe = await probeWebGpuAdapter();
  if (!probe) {
    const warning = $("webgpu-missing");
    warning.hidden = false;
    warning.textContent = "This browser offers no WebGPU adapter (navigator.gpu is missing or " +
      "requestAdapter() returned null). Training can run on the wasm backend instead (CPU, " +
      "slower): it is selected below.";
    field("device").value = "wasm";
    log(page, "no WebGPU adapter: offering wasm");
  } else {
    log(
      page,
      `WebGPU adapter: ${probe.description}${probe.isFallbackAdapter ? " (software)" : ""}`,
    );
  }
  $("mlflow-note").textContent = config.mlflow.enabled
    ? `MLflow: runs are logged to ${config.mlflow.target} through this server's /mlflow proxy.`
    : "MLflow: disabled (start the demo with --mlflow-tracking-uri to log runs).";
  page.mlflowAvailable = config.mlflow.enabled;
  field("mlflow").disabled = !page.mlflowAvailable;
  $("generate-sample").addEventListener("click", () => void generateClicked(page));
  $("load-files").addEventListener("click", () => void loadClicked(page));
  $("train").addEventListener("click", () => void trainClicked(page));
  $("stop").addEventListener("click", () => {
    page.controller?.abort();
    ($("stop") as HTMLButtonElement).disabled = true;
    log(page, "stop requested: finishing the current step");
  });
  $("download-checkpoint").addEventListener("click", () => downloadCheckpoint(page));
  $("download-metrics").addEventListener("click", () => {
    downloadBytes("metrics.csv", metricsCsv(page.state.epochs), "text/csv");
  });
  log(page, `tfjs ${tf.version.tfjs} loaded`);
}

const page = createDemoPage();
start(page).catch((error) => {
  page.state.error = (error as Error).message;
  setStatus(page, "error", `Cannot start the demo: ${(error as Error).message}`);
});
