// Custom WebGPU programs (WGSL) and their CPU references.
export * from "./lstm_webgpu.ts";
