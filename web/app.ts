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
import type { EpochMetrics } from "../src/train/hooks.ts";
import { renderLineChart } from "./_line_chart.ts";

/** What the page exposes for tests and curious users (`globalThis.componentXDemo`). */
export interface DemoState {
  status: "idle" | "data" | "training" | "done" | "stopped" | "error";
  runtime: RuntimeInfo | null;
  epochs: EpochMetrics[];
  error: string | null;
  log: string[];
}

const state: DemoState = { status: "idle", runtime: null, epochs: [], error: null, log: [] };
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
  field("mlflow").disabled = !config.mlflow.enabled;
  $("train").addEventListener("click", () => void trainClicked());
  (globalThis as unknown as { componentXTf: typeof tf }).componentXTf = tf;
}

async function trainClicked(): Promise<void> {
  try {
    const config = readConfig();
    const runtime = await selectBackend(parseDevice(config.device));
    state.runtime = runtime;
    showBackend(runtime);
    log(runtime.reason);
  } catch (error) {
    state.error = (error as Error).message;
    setStatus("error", (error as Error).message);
    log(`error: ${(error as Error).message}`);
  }
}

start().catch((error) => {
  state.error = (error as Error).message;
  setStatus("error", `Cannot start the demo: ${(error as Error).message}`);
});
