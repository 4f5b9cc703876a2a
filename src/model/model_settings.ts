/**
 * The architecture choices a user makes: hidden size, layers, direction, dropout, pooling
 * and the LSTM implementation. The data supplies the rest of the `ModelConfig`
 * (features per step, number of classes).
 *
 * @module
 */

/**
 * How the LSTM outputs become one vector per window:
 * - `last`: each direction's own final state over the valid steps (forward: last valid
 *   step; backward: first valid step). Padding is skipped.
 * - `mean`: the mean over the valid steps. Padding is skipped.
 * - `last-unmasked`: the PyTorch pipeline's "last": the LSTM also runs over the padding,
 *   and the output at the window's last step is read (`lstm_out[:, -1, :]`; for a BiLSTM
 *   its backward half has seen one step only: the pipeline's known defect).
 * - `mean-unmasked`: the pipeline's "mean": the LSTM also runs over the padding, and its
 *   outputs are averaged over the valid steps (`t >= T - length`).
 */
export type Pooling = "last" | "mean" | "last-unmasked" | "mean-unmasked";

/** The pooling values the model accepts, in the order of {@link Pooling}'s doc. */
export const POOLINGS: readonly Pooling[] = Object.freeze([
  "last",
  "mean",
  "last-unmasked",
  "mean-unmasked",
]);

/**
 * True for the pipeline's poolings, which run the LSTM over the padding too: their windows
 * must not be trimmed to the valid steps (trimming is exact for `last` and `mean` only).
 */
export function poolingReadsPadding(pooling: Pooling): boolean {
  return pooling === "last-unmasked" || pooling === "mean-unmasked";
}

/** Which LSTM implementation the model uses. */
export type LstmImpl = "fused" | "layers";

/** The model's architecture as chosen, before the data's shapes are known. */
export interface ModelSettings {
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout between LSTM layers and after each ReLU of the head, in [0, 1). */
  readonly dropout: number;
  readonly pooling: Pooling;
  readonly lstmImpl: LstmImpl;
}

/** The data contract's model (the PyTorch pipeline's defaults). */
export const DEFAULT_MODEL_SETTINGS: ModelSettings = Object.freeze({
  hiddenSize: 128,
  numLayers: 2,
  bidirectional: false,
  dropout: 0.1,
  pooling: "last",
  lstmImpl: "fused",
});
