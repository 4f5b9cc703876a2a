/**
 * Component X LSTM toolkit: train LSTM sequence classifiers on the WebGPU backend of
 * TensorFlow.js, in Deno and in the browser, with MLflow tracking.
 *
 * This module is browser-safe: it re-exports the core, which never touches `Deno.*`.
 * Deno-only edges (file access) live in files named `*_deno.ts` and are imported directly.
 *
 * @module
 */
export * from "./src/npz/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/model/mod.ts";
export * from "./src/kernels/mod.ts";
export * from "./src/train/mod.ts";
export * from "./src/metrics/mod.ts";
export * from "./src/report/mod.ts";
export * from "./src/review/mod.ts";
export * from "./src/tracking/mod.ts";
export * from "./src/runtime/mod.ts";
export * from "./src/jobs/mod.ts";
