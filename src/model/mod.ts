// LSTM stack + head, weights, checkpoint format.
export * from "./lstm_types.ts";
export * from "./lstm_fused.ts";
export * from "./lstm_impl.ts";
export * from "./lstm_layer.ts";
export * from "./lstm_warmup.ts";
export * from "./classifier.ts";
export * from "./safetensors.ts";
