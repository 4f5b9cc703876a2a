/**
 * The CPU kernels' process-wide runtime: how many threads they use, starting their
 * workers ahead of the first step, and stopping them. One runtime per JS realm, like tfjs'
 * own backends; every CPU kernel call goes through {@link cpuRuntime}.
 *
 * Threads need `SharedArrayBuffer` and Workers: always in Deno, and in a browser page that
 * is cross-origin isolated (COOP + COEP headers). Elsewhere the kernels run on one thread,
 * with the same results: how items are split never changes a bit of the output.
 *
 * @module
 */
import { CpuRuntime, threadsAvailable, wasmSimdAvailable } from "./_cpu_runtime.ts";

/** What the CPU kernels run with. */
export interface CpuKernelsInfo {
  /** Threads asked for (this one plus workers). */
  readonly threads: number;
  /** Threads running now (workers start in the background and leave when idle). */
  readonly liveThreads: number;
  /** True when relaxed SIMD's fused multiply-add is used. */
  readonly fusedMultiplyAdd: boolean;
  /** True when shared memory lets workers help (false: one thread). */
  readonly sharedMemory: boolean;
  /** Bytes of the kernels' memory in use (saved values of pending backward passes). */
  readonly bytesInUse: number;
  /** Bytes the kernels' memory has grown to. */
  readonly memoryBytes: number;
}

let runtime: CpuRuntime | null = null;
let simd: boolean | null = null;
let wanted = defaultThreads();

function defaultThreads(): number {
  const n = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency;
  return Number.isInteger(n) && n! >= 1 ? n! : 1;
}

/** True when this engine runs the CPU kernels (WebAssembly 128-bit SIMD). */
export function cpuKernelsAvailable(): boolean {
  simd ??= wasmSimdAvailable();
  return simd;
}

/**
 * Sets the number of threads (default: `navigator.hardwareConcurrency`, i.e. all cores the
 * runtime reports). Stops the current workers when the number changes.
 *
 * @example
 * ```ts
 * setCpuKernelThreads(1); // one thread: same results, no workers
 * ```
 */
export function setCpuKernelThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 57) {
    throw new RangeError(
      `Cannot set the CPU kernel threads to ${threads}: expected an integer in 1..57`,
    );
  }
  if (threads === wanted) return;
  wanted = threads;
  stopCpuKernels();
}

/** The threads the CPU kernels use: the number set (all cores by default), or 1 without threads. */
export function cpuKernelThreads(): number {
  return runtime?.threads ?? (threadsAvailable() ? wanted : 1);
}

/** The runtime, created on first use (its workers start in the background). */
export function cpuRuntime(): CpuRuntime {
  if (!cpuKernelsAvailable()) {
    throw new Error(
      "Cannot run the CPU kernels: this JavaScript engine lacks WebAssembly 128-bit SIMD",
    );
  }
  if (!runtime) {
    runtime = new CpuRuntime(threadsAvailable() ? wanted : 1);
    void runtime.ensureWorkers();
  }
  return runtime;
}

/** Creates the runtime and waits until its workers are live; says what runs. */
export async function startCpuKernels(): Promise<CpuKernelsInfo> {
  const rt = cpuRuntime();
  await rt.ensureWorkers();
  return cpuKernelsInfo();
}

/** What the CPU kernels run with now. */
export function cpuKernelsInfo(): CpuKernelsInfo {
  const rt = cpuRuntime();
  return Object.freeze({
    threads: rt.threads,
    liveThreads: rt.liveThreads,
    fusedMultiplyAdd: rt.fma,
    sharedMemory: rt.shared,
    bytesInUse: rt.bytesInUse,
    memoryBytes: rt.memory.buffer.byteLength,
  });
}

/**
 * Stops the workers; the next kernel call starts a fresh runtime. A backward pass still
 * pending keeps its runtime (and memory) until it has run, on one thread.
 */
export function stopCpuKernels(): void {
  runtime?.close();
  runtime = null;
}
