/**
 * The model: the LSTM stack and head, its architecture settings, the LSTM implementations
 * and the safetensors format (with PyTorch state_dict names).
 *
 * @module
 */
export * from "./model_settings.ts";
export * from "./lstm_types.ts";
export * from "./lstm_fused.ts";
export * from "./lstm_impl.ts";
export * from "./lstm_layer.ts";
export * from "./lstm_warmup.ts";
export * from "./classifier.ts";
export * from "./safetensors.ts";
export * from "./torch_state_dict.ts";
