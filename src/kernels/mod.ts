// Custom WebGPU programs (WGSL): the persistent LSTM layer, a tiled matmul, fused AdamW,
// dispatch counting, and the training-step benchmark behind `deno task perf`.
export * from "./lstm_webgpu.ts";
export * from "./adamw_webgpu.ts";
export * from "./dispatch_counter.ts";
export * from "./perf_workload.ts";
export * from "./matmul_webgpu.ts";
