/**
 * Compiles the WebGPU shaders a piece of tfjs work will need before it runs, on every core.
 *
 * On a software adapter (Mesa llvmpipe) a shader is compiled to machine code at
 * its first dispatch, by the one thread that runs the device's queue: a W training step
 * spent ~20-26 s of CPU compiling its ~47 shaders that way, one after another. Here the
 * work runs once in tfjs' compile-only mode, which only creates its pipelines; their WGSL
 * is captured, and every shader is then dispatched once (one workgroup, on zeroed buffers)
 * on extra devices, one per core, whose queue threads compile in parallel. The compiled
 * code lands in Mesa's shader cache (`MESA_SHADER_CACHE_DIR`), where the real device finds
 * it at its first dispatch. On a hardware adapter compiling is fast and this is skipped.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isWebGpuBackendActive } from "./_webgpu_program.ts";

/** What {@link warmUpWebGpuShaders} did. */
export interface ShaderWarmUp {
  /** Shaders compiled ahead (0 when skipped). */
  readonly shaders: number;
  /** Devices that compiled them in parallel. */
  readonly devices: number;
  /** Wall time, ms. */
  readonly ms: number;
  /** Why nothing was done, when nothing was. */
  readonly skipped?: string;
}

/** Options of {@link warmUpWebGpuShaders}. */
export interface WarmUpOptions {
  /** Devices to compile on; default the core count (at most 8). */
  readonly devices?: number;
  /** Warm up on a hardware adapter too (default: only on a software fallback adapter). */
  readonly always?: boolean;
}

interface DeviceBackend {
  device: GPUDevice;
  checkCompileCompletionAsync(): Promise<void>;
}

/** Runs `work` in compile-only mode and returns the WGSL of every shader it created. */
async function captureShaders(work: () => unknown | Promise<unknown>): Promise<string[]> {
  const backend = tf.backend() as unknown as DeviceBackend;
  const device = backend.device;
  const codes: string[] = [];
  const create = device.createShaderModule;
  device.createShaderModule = function (this: GPUDevice, desc: GPUShaderModuleDescriptor) {
    codes.push(desc.code);
    return create.call(this, desc);
  };
  tf.env().set("WEBGPU_ENGINE_COMPILE_ONLY", true);
  try {
    await work();
  } finally {
    tf.env().set("WEBGPU_ENGINE_COMPILE_ONLY", false);
    device.createShaderModule = create;
  }
  await backend.checkCompileCompletionAsync();
  return codes;
}

/** Compiles and dispatches each shader once (one workgroup, zeroed buffers) on `device`. */
async function compileOn(device: GPUDevice, codes: readonly string[]): Promise<void> {
  const buffers: GPUBuffer[] = [];
  for (const code of codes) {
    const module = device.createShaderModule({ code });
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "_start" },
    });
    const entries: GPUBindGroupEntry[] = [];
    for (const m of code.matchAll(/@binding\((\d+)\)\s*var<(\w+)/g)) {
      const buffer = device.createBuffer({
        size: 1024,
        usage: m[2] === "uniform" ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
      });
      buffers.push(buffer);
      entries.push({ binding: Number(m[1]), resource: { buffer } });
    }
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    if (entries.length > 0) {
      pass.setBindGroup(
        0,
        device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }),
      );
    }
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([encoder.finish()]);
  }
  await device.queue.onSubmittedWorkDone();
  for (const b of buffers) b.destroy();
}

/**
 * Compiles every WebGPU shader `work` needs, in parallel on extra devices, so that its first
 * real run does not compile. `work` must only enqueue tfjs operations (it runs in tfjs'
 * compile-only mode, where nothing executes and no tensor may be read) and must not
 * change any state it keeps: give it a throwaway model and optimizer.
 *
 * @example
 * ```ts
 * const warm = await warmUpWebGpuShaders(() => tf.tidy(() => { step(model); }));
 * console.log(`${warm.shaders} shaders compiled in ${warm.ms} ms`);
 * ```
 */
export async function warmUpWebGpuShaders(
  work: () => unknown | Promise<unknown>,
  options: WarmUpOptions = {},
): Promise<ShaderWarmUp> {
  const started = performance.now();
  const skip = (why: string): ShaderWarmUp => ({
    shaders: 0,
    devices: 0,
    ms: performance.now() - started,
    skipped: why,
  });
  if (!isWebGpuBackendActive()) return skip("the active tfjs backend is not webgpu");
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const adapter = await gpu?.requestAdapter();
  const info = adapter?.info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  const fallback = Boolean(
    info?.isFallbackAdapter ??
      (adapter as unknown as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter,
  );
  if (!adapter || (!fallback && !options.always)) {
    return skip("a hardware adapter compiles its shaders quickly");
  }
  const codes = [...new Set(await captureShaders(work))];
  const cores = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency ?? 1;
  const wanted = Math.max(1, Math.min(options.devices ?? cores, 8, codes.length));
  const devices: GPUDevice[] = [];
  try {
    for (let i = 0; i < wanted; i++) {
      const a = i === 0 ? adapter : await gpu!.requestAdapter();
      if (!a) break;
      devices.push(await a.requestDevice());
    }
    // Longest shaders first, each to the device with the least code so far.
    const parts: string[][] = devices.map(() => []);
    const load = devices.map(() => 0);
    for (const code of [...codes].sort((a, b) => b.length - a.length)) {
      const i = load.indexOf(Math.min(...load));
      parts[i].push(code);
      load[i] += code.length;
    }
    await Promise.all(devices.map((d, i) => compileOn(d, parts[i])));
  } finally {
    for (const d of devices) d.destroy();
  }
  return { shaders: codes.length, devices: devices.length, ms: performance.now() - started };
}
