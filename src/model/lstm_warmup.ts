/**
 * Compiles the WebGPU shaders of a classifier's training step ahead of the first real step
 * (see `warmUpWebGpuShaders` in `src/kernels/`): a throwaway classifier of the same
 * configuration runs forward, backward and a fused AdamW update in tfjs' compile-only mode
 * on a zero batch, and its shaders are compiled on every core. Meant to run while the data
 * loads; what the training loop adds (its loss variants, metrics) compiles at its first use.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamWWebGpu, type ShaderWarmUp, warmUpWebGpuShaders } from "../kernels/mod.ts";
import { createLstmClassifier, type ModelConfig } from "./classifier.ts";

/** Shapes of the warm-up batch (the window only changes uniforms, not shaders). */
export interface WarmUpBatch {
  readonly batchSize: number;
  readonly steps?: number;
}

/**
 * Compiles the shaders of one training step of `config` on the active webgpu backend;
 * skipped (and says why) elsewhere or on a hardware adapter.
 *
 * @example
 * ```ts
 * const warm = await warmUpClassifierShaders(modelConfig, { batchSize: 64 });
 * if (!warm.skipped) console.log(`${warm.shaders} shaders compiled in ${warm.ms} ms`);
 * ```
 */
export function warmUpClassifierShaders(
  config: ModelConfig,
  batch: WarmUpBatch,
): Promise<ShaderWarmUp> {
  return warmUpWebGpuShaders(() => {
    const model = createLstmClassifier(config, { seed: 0 });
    const vars = model.namedVariables.map((v) => v.variable);
    const optimizer = new AdamWWebGpu(vars, { weightDecay: 1e-4 });
    try {
      tf.tidy(() => {
        const steps = batch.steps ?? 32;
        const x = tf.zeros([batch.batchSize, steps, config.inputSize]) as tf.Tensor3D;
        const mask = tf.ones([batch.batchSize, steps]) as tf.Tensor2D;
        const labels = tf.oneHot(
          tf.zeros([batch.batchSize], "int32") as tf.Tensor1D,
          config.numClasses,
        );
        const { grads } = tf.variableGrads(
          () =>
            tf.losses.softmaxCrossEntropy(
              labels,
              model.apply(x, mask, { training: true, dropoutSeed: 1 }),
            ) as tf.Scalar,
          vars,
        );
        optimizer.applyGradients(vars.map((v) => grads[v.name]), 1e-3);
      });
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
}
