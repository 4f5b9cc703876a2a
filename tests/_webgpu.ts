/**
 * WebGPU test scaffolding: probe the adapter, skip loudly without one, else switch
 * TensorFlow.js to the WebGPU backend.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { probeWebGpuAdapter } from "../src/runtime/mod.ts";

/** What `probeWebGpuAdapter()` reports about a usable adapter. */
export type WebGpuTestAdapter = NonNullable<Awaited<ReturnType<typeof probeWebGpuAdapter>>>;

/**
 * Probes the WebGPU adapter. Without one, warns loudly that `what` is skipped and returns
 * null; with one, makes "webgpu" the active TensorFlow.js backend and returns the probe.
 */
export async function useWebGpuOrSkip(what: string): Promise<WebGpuTestAdapter | null> {
  const adapter = await probeWebGpuAdapter();
  if (!adapter) {
    console.warn(`\n*** SKIPPING ${what}: no WebGPU adapter in this runtime ***\n`);
    return null;
  }
  await tf.setBackend("webgpu");
  await tf.ready();
  assert.equal(tf.getBackend(), "webgpu");
  return adapter;
}
