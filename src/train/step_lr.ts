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
 * The learning rate of 1-based `epoch` under StepLR stepped once per epoch, computed as
 * torch's StepLR does (one multiplication by gamma at every `stepSize`-th step, not a
 * power), so the rates are bit-identical to torch's: `lr * gamma ^ floor((epoch - 1) /
 * stepSize)`. `from` starts the schedule at a known rate of an earlier epoch (a resumed
 * checkpoint's).
 *
 * @example
 * ```ts
 * learningRateAt(11, { lr: 1e-3, stepLrStepSize: 10, stepLrGamma: 0.5 }); // 5e-4
 * ```
 */
export function learningRateAt(
  epoch: number,
  schedule: StepLrSchedule,
  from: { readonly epoch: number; readonly lr: number } = { epoch: 1, lr: schedule.lr },
): number {
  if (!Number.isInteger(epoch) || epoch < from.epoch || from.epoch < 1) {
    throw new RangeError(
      `Cannot compute the learning rate: epoch must be an integer >= ${
        Math.max(1, from.epoch)
      }, received ${epoch}`,
    );
  }
  const stepSize = Math.max(1, schedule.stepLrStepSize);
  let lr = from.lr;
  for (let e = from.epoch + 1; e <= epoch; e++) {
    if ((e - 1) % stepSize === 0) lr *= schedule.stepLrGamma;
  }
  return lr;
}
