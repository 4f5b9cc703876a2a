import assert from "#assert";
import { DEFAULT_RUN_SPEC, DEFAULT_TRAIN_JOB, trainingParams } from "../../src/jobs/run_spec.ts";
import { DEFAULT_LOOP_CONFIG, withSettings } from "../../src/train/config.ts";

Deno.test("trainingParams() never keeps credentials embedded in a tracking URI", () => {
  const params = trainingParams(DEFAULT_TRAIN_JOB.model, DEFAULT_TRAIN_JOB.loop, {
    ...DEFAULT_RUN_SPEC,
    mlflowTrackingUri: "https://ann:s3cret@mlflow.example.com:5000",
  });
  assert.equal(params.mlflow_tracking_uri, "https://mlflow.example.com:5000");
  assert.ok(!Object.values(params).some((v) => v.includes("s3cret")));
});

Deno.test("trainingParams() names model, loop and run settings as the pipeline's flags", () => {
  const params = trainingParams(
    { ...DEFAULT_TRAIN_JOB.model, hiddenSize: 16 },
    { ...DEFAULT_LOOP_CONFIG, stepLrGamma: 0.25, lr: 1e-5, gradClip: 0 },
    { device: "cpu", mlflow: true, valNpz: "", mlflowRunName: "" },
  );
  assert.equal(params.hidden_size, "16");
  assert.equal(params.step_lr_gamma, "0.25");
  // As the pipeline's log_params (Python's str()): True/False, floats as Python writes them.
  assert.equal(params.bucket_by_length, "False");
  assert.equal(params.mlflow, "True");
  assert.equal(params.lr, "1e-05");
  assert.equal(params.dropout, "0.1");
  assert.equal(params.weight_decay, "0.0001");
  assert.equal(params.device, "cpu");
  assert.equal(params.train_npz, undefined, "only the run settings given are params");
  // Unset flags are left out, as the pipeline (None): no val file, no run name, no clipping.
  for (const unset of ["val_npz", "mlflow_run_name", "grad_clip"]) {
    assert.equal(params[unset], undefined, unset);
  }
});

Deno.test("trainingParams() writes a float flag with a decimal point, as Python's float", () => {
  const params = trainingParams(DEFAULT_TRAIN_JOB.model, {
    ...DEFAULT_LOOP_CONFIG,
    gradClip: 1,
    stepLrGamma: 1e16,
  }, {});
  assert.equal(params.grad_clip, "1.0");
  assert.equal(params.step_lr_gamma, "1e+16");
  assert.equal(params.batch_size, "64");
});

Deno.test("withSettings() sorts flat overrides into model and loop settings", () => {
  const config = withSettings(DEFAULT_TRAIN_JOB, { hiddenSize: 8, epochs: 2 });
  assert.equal(config.model.hiddenSize, 8);
  assert.equal(config.loop.epochs, 2);
  assert.equal(config.loop.lr, DEFAULT_LOOP_CONFIG.lr);
  assert.ok(Object.isFrozen(config.model) && Object.isFrozen(config.loop));
  assert.throws(
    () => withSettings(DEFAULT_TRAIN_JOB, { trainNpz: "x" } as never),
    (e: Error) =>
      e instanceof TypeError &&
      e.message === 'Cannot set "trainNpz": it is neither a model nor a loop setting',
  );
});
