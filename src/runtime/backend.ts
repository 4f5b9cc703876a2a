/**
 * Backend selection: the one place that decides which TensorFlow.js backend runs and why.
 *
 * `cuda` (also `cuda:0`) and `gpu` mean WebGPU on a hardware adapter and fail, as PyTorch
 * does without CUDA, when there is none; `webgpu` means WebGPU on any adapter, a software
 * one too; `cpu` means the wasm backend (tfjs `cpu` is only a fallback when wasm cannot
 * start). Left unset, WebGPU is chosen when a hardware adapter exists; a software fallback
 * adapter (Mesa llvmpipe, SwiftShader) is slower than wasm, so auto picks wasm there and
 * says why.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import "@tensorflow/tfjs-backend-wasm";

/**
 * What the user asked for, after aliases are resolved: `gpu` = WebGPU on a hardware
 * adapter only, `webgpu` = WebGPU on any adapter.
 */
export type DeviceRequest = "auto" | "gpu" | "webgpu" | "wasm" | "cpu";

/** A tfjs backend this toolkit runs on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** The frozen outcome of backend selection. */
export interface RuntimeInfo {
  /** The backend tfjs is now running on. */
  readonly backend: BackendName;
  /** What was asked for. */
  readonly requested: DeviceRequest;
  /** The WebGPU adapter's description, or null when none was found. */
  readonly adapter: string | null;
  /** True when the WebGPU adapter is a software fallback (llvmpipe, SwiftShader). */
  readonly isFallbackAdapter: boolean;
  /** One sentence saying why this backend was chosen; print it. */
  readonly reason: string;
  /** Where the code runs. */
  readonly runtime: "deno" | "browser" | "node" | "unknown";
}

const DEVICE_ALIASES: Readonly<Record<string, DeviceRequest>> = {
  auto: "auto",
  cuda: "gpu",
  gpu: "gpu",
  webgpu: "webgpu",
  cpu: "wasm",
  wasm: "wasm",
  "tfjs-cpu": "cpu",
};

/** The values `--device` accepts (and `cuda:0`, PyTorch's name of the first GPU). */
export const DEVICE_CHOICES: readonly string[] = Object.freeze(Object.keys(DEVICE_ALIASES));

/**
 * Resolves a `--device` value to a request; `undefined` or `""` means auto.
 *
 * @example
 * ```ts
 * parseDevice("cuda"); // "gpu" (a hardware adapter is required)
 * parseDevice("cuda:0"); // "gpu"
 * parseDevice("cpu"); // "wasm"
 * ```
 */
export function parseDevice(value: string | undefined): DeviceRequest {
  if (value === undefined || value === "") return "auto";
  const index = /^cuda:(\d+)$/i.exec(value);
  if (index) {
    if (Number(index[1]) !== 0) {
      throw new RangeError(
        `Cannot use --device ${JSON.stringify(value)}: WebGPU offers one adapter; ` +
          "use cuda or cuda:0",
      );
    }
    return "gpu";
  }
  const request = DEVICE_ALIASES[value.toLowerCase()];
  if (request === undefined) {
    throw new RangeError(
      `Cannot use --device ${JSON.stringify(value)}: expected one of ${DEVICE_CHOICES.join(", ")}`,
    );
  }
  return request;
}

/** Which runtime this is, for reports. */
export function detectRuntime(): RuntimeInfo["runtime"] {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === "object") return "deno";
  if (typeof g.window === "object" && typeof g.document === "object") return "browser";
  const proc = g.process as { versions?: { node?: string } } | undefined;
  if (proc?.versions?.node) return "node";
  return "unknown";
}

interface AdapterProbe {
  readonly description: string;
  readonly isFallbackAdapter: boolean;
}

/** Asks the platform for a WebGPU adapter without creating a device. */
export async function probeWebGpuAdapter(
  gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu,
): Promise<AdapterProbe | null> {
  if (!gpu) return null;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    return null;
  }
  if (!adapter) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const parts = [info?.description, info?.vendor && `vendor ${info.vendor}`, info?.architecture]
    .filter((s) => typeof s === "string" && s.length > 0);
  return {
    description: parts.length > 0 ? parts.join(", ") : "unnamed WebGPU adapter",
    isFallbackAdapter: Boolean(info?.isFallbackAdapter ?? legacy ?? false),
  };
}

/**
 * tfjs-webgpu's matmul program types: 2 = MatMulSmallOutputSizeProgram, -1 = its own pick.
 * On a software adapter every new shader is compiled by the CPU at its first dispatch, and
 * tfjs' tiled MatMulPackedProgram, picked for the head's 64x256x128 gradient products, took
 * 16 s and 5 s of a W step's 44 s of cold compiles on llvmpipe (the small-output program:
 * 1 s, and the step already compiles its variants).
 */
const MATMUL_PROGRAM_SMALL_OUTPUT = 2;

async function activate(name: BackendName): Promise<boolean> {
  // tfjs-wasm's threaded build: never. In Deno it does not start (it takes the Node path),
  // and in a cross-origin isolated page it starts its pthread workers from the factory's
  // source text, which a minified bundle breaks (`i is not defined`). The LSTM, most of a
  // step, runs on every core in the CPU kernels (`src/kernels/`) anyway.
  if (name === "wasm") tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Selects and initialises the tfjs backend for a request, and says why.
 *
 * Throws an `Error` when WebGPU is asked for explicitly and no adapter exists, and for
 * `gpu` (`--device cuda|gpu`) when the adapter is a software one, as PyTorch fails without
 * CUDA: falling back is the user's explicit choice, never a silent one. `device` is the
 * value as the user wrote it, for the message (default: the request).
 */
export async function selectBackend(
  request: DeviceRequest,
  options: { readonly device?: string } = {},
): Promise<RuntimeInfo> {
  const runtime = detectRuntime();
  const probe = request === "wasm" || request === "cpu" ? null : await probeWebGpuAdapter();
  const done = (backend: BackendName, reason: string): RuntimeInfo =>
    Object.freeze({
      backend,
      requested: request,
      adapter: probe?.description ?? null,
      isFallbackAdapter: probe?.isFallbackAdapter ?? false,
      reason,
      runtime,
    });

  if (request === "gpu" && (!probe || probe.isFallbackAdapter)) {
    const device = options.device ?? "cuda";
    throw new Error(
      `Cannot use --device ${device}: CUDA not available: ${
        probe
          ? `the only WebGPU adapter is the software adapter "${probe.description}", no GPU`
          : "this runtime offers no WebGPU adapter (no GPU)"
      }; pass --device cpu to train on the CPU (wasm backend)` +
        (probe ? ", or --device webgpu to use the software adapter anyway (slower)" : ""),
    );
  }
  if (request === "webgpu" || request === "gpu") {
    if (!probe) {
      throw new Error(
        "Cannot use --device webgpu: this runtime offers no WebGPU adapter " +
          "(navigator.gpu is missing or requestAdapter() returned null); " +
          "pass --device cpu to train on the wasm backend instead",
      );
    }
    if (!(await activate("webgpu"))) {
      throw new Error(
        `Cannot start the WebGPU backend on adapter "${probe.description}"; ` +
          "pass --device cpu to train on the wasm backend instead",
      );
    }
    const kind = probe.isFallbackAdapter ? "software fallback adapter" : "hardware adapter";
    tf.env().set(
      "WEBGPU_MATMUL_PROGRAM_TYPE",
      probe.isFallbackAdapter ? MATMUL_PROGRAM_SMALL_OUTPUT : -1,
    );
    return done("webgpu", `WebGPU requested; using ${kind} "${probe.description}"`);
  }

  if (request === "auto" && probe && !probe.isFallbackAdapter && await activate("webgpu")) {
    return done("webgpu", `auto: hardware WebGPU adapter "${probe.description}" found`);
  }

  if (request === "cpu") {
    if (await activate("cpu")) return done("cpu", "tfjs-cpu requested (plain JavaScript, slow)");
    throw new Error("Cannot start the tfjs cpu backend");
  }

  if (await activate("wasm")) {
    const why = request === "wasm"
      ? "cpu requested; using the wasm backend"
      : probe
      ? `auto: WebGPU adapter "${probe.description}" is a software fallback, slower than wasm; ` +
        "using wasm (pass --device webgpu to use it anyway)"
      : "auto: no WebGPU adapter found; using the wasm backend";
    return done("wasm", why);
  }
  if (await activate("cpu")) {
    return done("cpu", "the wasm backend could not start; falling back to tfjs cpu (slow)");
  }
  throw new Error("Cannot start any tfjs backend: webgpu, wasm and cpu all failed");
}
