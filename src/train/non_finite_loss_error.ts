/**
 * The error that stops training on a non-finite loss.
 *
 * @module
 */

/** The loss became NaN or infinite: training stops, naming where and at which learning rate. */
export class NonFiniteLossError extends RangeError {
  /** 1-based epoch. */
  readonly epoch: number;
  /** First and last step (1-based) of the interval whose loss was read back. */
  readonly steps: readonly [number, number];
  /** The learning rate of the epoch. */
  readonly lr: number;

  /** Builds the error; the message names the epoch, steps and learning rate. */
  constructor(
    message: string,
    details: { epoch: number; steps: readonly [number, number]; lr: number },
  ) {
    super(message);
    this.name = "NonFiniteLossError";
    this.epoch = details.epoch;
    this.steps = details.steps;
    this.lr = details.lr;
  }
}
