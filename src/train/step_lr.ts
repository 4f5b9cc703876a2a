/**
 * PyTorch's StepLR schedule.
 *
 * @module
 */

/** StepLR parameters. */
export interface StepLrSchedule {
  readonly lr: number;
  readonly stepLrStepSize: number;
  readonly stepLrGamma: number;
}

/**
 * The learning rate of 1-based `epoch` under StepLR stepped once per epoch:
 * `lr * gamma ^ floor((epoch - 1) / stepSize)`.
 *
 * @example
 * ```ts
 * learningRateAt(11, { lr: 1e-3, stepLrStepSize: 10, stepLrGamma: 0.5 }); // 5e-4
 * ```
 */
export function learningRateAt(epoch: number, schedule: StepLrSchedule): number {
  if (!Number.isInteger(epoch) || epoch < 1) {
    throw new RangeError(
      `Cannot compute the learning rate: epoch must be an integer >= 1, received ${epoch}`,
    );
  }
  const decays = Math.floor((epoch - 1) / Math.max(1, schedule.stepLrStepSize));
  return schedule.lr * schedule.stepLrGamma ** decays;
}
