/**
 * The demo page's state and its DOM helpers: one {@link DemoPage} object (created once by
 * `app.ts` and exposed as `globalThis.componentXDemo` for tests), the log and the status.
 *
 * @module
 */
import type { RuntimeInfo } from "../src/runtime/backend.ts";
import type { ConfusionMatrix } from "../src/metrics/metrics.ts";
import type { CheckpointFiles, EpochMetrics } from "../src/train/hooks.ts";
import type { DemoDataset } from "./_dataset.ts";

/** What the page exposes for tests and curious users (`globalThis.componentXDemo`). */
export interface DemoState {
  status: "idle" | "loading" | "data" | "training" | "done" | "stopped" | "error";
  runtime: RuntimeInfo | null;
  epochs: EpochMetrics[];
  error: string | null;
  log: string[];
  /** Which checkpoint the results and the download use. */
  resultsFrom: { kind: "best" | "last"; epoch: number } | null;
  /**
   * Softmax probabilities of every val row under that checkpoint (row order), scaled by the
   * checkpoint's temperature when it has one.
   */
  valProbabilities: number[][] | null;
  /** The temperature applied to `valProbabilities` (null: none, uncalibrated). */
  temperature: number | null;
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

/** The page: its visible state, plus what the handlers share. */
export interface DemoPage {
  readonly state: DemoState;
  /** The data loaded or generated, once there is some. */
  dataset: DemoDataset | null;
  /** Aborts the running training (the Stop button). */
  controller: AbortController | null;
  /** The demo server proxies an MLflow server. */
  mlflowAvailable: boolean;
  /** The checkpoints of the last training, by kind. */
  checkpoints: Partial<Record<"best" | "last", CheckpointFiles>>;
}

/** A fresh page state, published as `globalThis.componentXDemo`. */
export function createDemoPage(): DemoPage {
  const state: DemoState = {
    status: "idle",
    runtime: null,
    epochs: [],
    error: null,
    log: [],
    resultsFrom: null,
    valProbabilities: null,
    temperature: null,
    confusion: null,
    trainMillis: null,
    lstmPath: null,
    mlflow: null,
  };
  (globalThis as unknown as { componentXDemo: DemoState }).componentXDemo = state;
  return { state, dataset: null, controller: null, mlflowAvailable: false, checkpoints: {} };
}

/** The element with that id; throws when index.html lacks it. */
export function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`Cannot find element #${id} in index.html`);
  return element;
}

/** Appends a time-stamped line to the page's log (and the console). */
export function log(page: DemoPage, line: string): void {
  const stamped = `${new Date().toISOString().slice(11, 19)} ${line}`;
  page.state.log.push(stamped);
  const pre = $("log");
  pre.textContent += stamped + "\n";
  pre.scrollTop = pre.scrollHeight;
  console.log(line);
}

/** Sets the status line and the state's status. */
export function setStatus(page: DemoPage, status: DemoState["status"], text: string): void {
  page.state.status = status;
  const element = $("status");
  element.dataset.state = status;
  element.textContent = text;
}

/** Shows an error in the status line and the log. */
export function fail(page: DemoPage, error: unknown, what: string): void {
  const message = error instanceof Error ? error.message : String(error);
  page.state.error = message;
  setStatus(page, "error", `${what}: ${message}`);
  log(page, `error: ${message}`);
  console.error(error);
}

/** Lets the browser paint and handle input. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
