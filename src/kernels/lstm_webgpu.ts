/**
 * WebGPU LSTM layer kernels (forward and backward programs) registered with
 * tfjs-backend-webgpu. Work in progress: until the kernels land, `webgpuLstmAvailable()`
 * answers false and the model uses the generic fused op on every backend.
 *
 * @module
 */
import type { LstmLayerFn } from "../model/lstm_types.ts";

/** True when the active backend is WebGPU and the fused kernels can run on it. */
export function webgpuLstmAvailable(): boolean {
  return false;
}

/** The WebGPU implementation of {@link LstmLayerFn}. */
export const lstmLayerWebGpu: LstmLayerFn = () => {
  throw new Error("Cannot run lstmLayerWebGpu: the WebGPU LSTM kernels are not built yet");
};
