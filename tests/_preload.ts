/**
 * Preloaded into every test module by `deno task test` (`--preload`): WebGPU is not to be
 * used in the `deno test` process.
 *
 * `deno test` runs test modules on worker threads; a thread that used WebGPU and exits
 * while the process exits makes libglvnd's libEGL free its thread state twice, and the
 * process aborts after a green summary (docs/testing.md, "WebGPU tests run in child
 * processes"). WebGPU tests use `webGpuTest()` from tests/_webgpu.ts, which runs them in a
 * child process. Anything else that asks for an adapter here fails the test run at once,
 * loudly, instead of aborting one run in ten at exit.
 */
const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
if (gpu) {
  Object.defineProperty(gpu, "requestAdapter", {
    configurable: true,
    value: (): Promise<GPUAdapter | null> => {
      const error = new Error(
        "Cannot use WebGPU in the deno test process: navigator.gpu.requestAdapter() was " +
          "called on a test worker thread; run the test with webGpuTest() from " +
          "tests/_webgpu.ts (see docs/testing.md)",
      );
      // Callers such as probeWebGpuAdapter() catch rejections; the report fails the run.
      reportError(error);
      return Promise.reject(error);
    },
  });
}
