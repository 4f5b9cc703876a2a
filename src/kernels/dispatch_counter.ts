/**
 * Counts WebGPU compute dispatches (`GPUComputePassEncoder.dispatchWorkgroups` calls) by
 * wrapping the method on the prototype, so every encoder tfjs creates is counted.
 *
 * @module
 */

/** A running count of compute dispatches; see {@link installDispatchCounter}. */
export interface DispatchCounter {
  /** Dispatches recorded since install or the last {@link DispatchCounter.reset}. */
  readonly count: number;
  /** Sets the count back to zero. */
  reset(): void;
  /** Restores the original method; the count stops changing. */
  uninstall(): void;
}

type Dispatch = (x: number, y?: number, z?: number) => void;

/**
 * Starts counting compute dispatches in this realm. Throws when the runtime has no
 * WebGPU (no `GPUComputePassEncoder` class).
 *
 * @example
 * ```ts
 * const counter = installDispatchCounter();
 * trainStep();
 * await tf.backend().read(...); // or any sync point
 * console.log(counter.count);
 * counter.uninstall();
 * ```
 */
export function installDispatchCounter(): DispatchCounter {
  const cls = (globalThis as { GPUComputePassEncoder?: { prototype: object } })
    .GPUComputePassEncoder;
  if (!cls) {
    throw new Error(
      "Cannot count WebGPU dispatches: this runtime has no GPUComputePassEncoder " +
        "(WebGPU is unavailable); run on a runtime with navigator.gpu",
    );
  }
  const proto = cls.prototype as { dispatchWorkgroups: Dispatch };
  const original = proto.dispatchWorkgroups;
  let count = 0;
  let installed = true;
  proto.dispatchWorkgroups = function (this: unknown, x: number, y?: number, z?: number) {
    count++;
    return original.call(this, x, y, z);
  };
  return {
    get count() {
      return count;
    },
    reset() {
      count = 0;
    },
    uninstall() {
      if (!installed) return;
      installed = false;
      proto.dispatchWorkgroups = original;
    },
  };
}
