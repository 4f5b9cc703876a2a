/**
 * The architecture choices a user makes: hidden size, layers, direction, dropout, pooling
 * and the LSTM implementation. The data supplies the rest of the `ModelConfig`
 * (features per step, number of classes).
 *
 * @module
 */

/** Pooling over the valid steps of a pre-padded window. */
export type Pooling = "last" | "mean";

/** The pooling values the model accepts. */
export const POOLINGS: readonly Pooling[] = Object.freeze(["last", "mean"]);

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
