// LSTM stack + head, weights, checkpoint format.
export * from "./lstm_types.ts";
