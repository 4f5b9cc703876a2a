/**
 * Runs several {@link TrainHooks} as one.
 *
 * @module
 */
import type { TrainHooks } from "./hooks.ts";

/**
 * One hooks object that calls each of `list`'s hooks in order, awaiting each, so the
 * console, `metrics.csv`, checkpoints and MLflow can subscribe side by side.
 */
export function combineHooks(list: readonly TrainHooks[]): TrainHooks {
  const all =
    <K extends keyof TrainHooks>(key: K) =>
    async (...args: Parameters<NonNullable<TrainHooks[K]>>) => {
      for (const h of list) {
        const fn = h[key] as ((...a: typeof args) => unknown) | undefined;
        if (fn) await fn.apply(h, args);
      }
    };
  return {
    onStart: all("onStart"),
    onStep: all("onStep"),
    onEpochEnd: all("onEpochEnd"),
    onCheckpoint: all("onCheckpoint"),
    onEnd: all("onEnd"),
  };
}
