/**
 * The hyperparameter form: filled with the train CLI's defaults, read back into the
 * training loop's config plus the page's own run choices (device, MLflow).
 *
 * @module
 */
import { DEFAULT_RUN_SPEC } from "../src/jobs/run_spec.ts";
import { DEFAULT_TRAIN_CONFIG, type TrainConfig, withSettings } from "../src/train/config.ts";
import { $ } from "./_page.ts";

/** What the form holds: the model and loop settings, and how to run them. */
export interface FormSettings {
  readonly config: TrainConfig;
  /** The device picked ("" = auto). */
  readonly device: string;
  /** Log the run to MLflow (through the demo server's proxy). */
  readonly mlflow: boolean;
  readonly mlflowExperiment: string;
}

function form(): HTMLFormElement {
  return $("params") as HTMLFormElement;
}

/** One input of the form by name. */
export function field(name: string): HTMLInputElement {
  return form().elements.namedItem(name) as HTMLInputElement;
}

/** All inputs of the form. */
export function formInputs(): HTMLInputElement[] {
  return Array.from(form().elements) as HTMLInputElement[];
}

/** Puts the train CLI's defaults into the form. */
export function fillDefaults(): void {
  const { model, loop } = DEFAULT_TRAIN_CONFIG;
  field("hiddenSize").value = String(model.hiddenSize);
  field("numLayers").value = String(model.numLayers);
  field("bidirectional").checked = model.bidirectional;
  field("epochs").value = String(loop.epochs);
  field("batchSize").value = String(loop.batchSize);
  field("lr").value = String(loop.lr);
  field("weightedLoss").checked = loop.weightedLoss;
  field("seed").value = String(loop.seed);
  field("mlflow").checked = false;
  field("mlflowExperiment").value = DEFAULT_RUN_SPEC.mlflowExperiment;
}

/** A form value as a positive integer; a RangeError names the field otherwise. */
export function positiveInt(name: string): number {
  const value = Number(field(name).value);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot use ${name} ${JSON.stringify(field(name).value)}: expected a positive integer`,
    );
  }
  return value;
}

/**
 * Reads the form (the CLI's defaults for everything it does not show). The log interval,
 * when left empty, gives about 25 reports (read-backs and yields to the page) per epoch of
 * `trainRows` rows.
 */
export function readForm(trainRows: number): FormSettings {
  const lr = Number(field("lr").value);
  if (!(lr > 0)) {
    throw new RangeError(
      `Cannot use learning rate ${JSON.stringify(field("lr").value)}: expected a number > 0`,
    );
  }
  const batchSize = positiveInt("batchSize");
  const logInterval = field("logInterval").value === ""
    ? Math.max(1, Math.round(Math.ceil(trainRows / batchSize) / 25))
    : positiveInt("logInterval");
  return {
    config: withSettings(DEFAULT_TRAIN_CONFIG, {
      hiddenSize: positiveInt("hiddenSize"),
      numLayers: positiveInt("numLayers"),
      bidirectional: field("bidirectional").checked,
      epochs: positiveInt("epochs"),
      batchSize,
      lr,
      weightedLoss: field("weightedLoss").checked,
      seed: Number(field("seed").value) || 0,
      logInterval,
    }),
    device: field("device").value,
    mlflow: field("mlflow").checked,
    mlflowExperiment: field("mlflowExperiment").value || DEFAULT_RUN_SPEC.mlflowExperiment,
  };
}
