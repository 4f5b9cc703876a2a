// Custom WebGPU programs (WGSL): the persistent LSTM layer, fused AdamW, dispatch counting.
export * from "./lstm_webgpu.ts";
export * from "./adamw_webgpu.ts";
export * from "./dispatch_counter.ts";
