// Custom WebGPU programs (WGSL): the persistent LSTM layer, a tiled matmul, fused AdamW,
// dispatch counting, shader warm-up; and the CPU kernels (WebAssembly SIMD on every core).
export * from "./lstm_webgpu.ts";
export * from "./adamw_webgpu.ts";
export * from "./dispatch_counter.ts";
export * from "./matmul_webgpu.ts";
export * from "./lstm_shapes.ts";
export {
  cpuKernelsAvailable,
  type CpuKernelsInfo,
  cpuKernelsInfo,
  cpuKernelThreads,
  setCpuKernelThreads,
  startCpuKernels,
  stopCpuKernels,
} from "./cpu_kernels.ts";
export * from "./lstm_cpu.ts";
export * from "./webgpu_warmup.ts";
