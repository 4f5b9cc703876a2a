import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import {
  createLstmClassifier,
  exportTorchStateDict,
  loadTorchStateDict,
  type ModelConfig,
  pipelineModelConfig,
  torchParameters,
  torchStateDict,
} from "../../src/model/mod.ts";
import {
  float32Tensor,
  type PyValue,
  readPipelineCheckpoint,
  torchCpuRngState,
  TorchTensor,
  writePipelineCheckpoint,
} from "../../src/torch/mod.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { relativeError } from "./_lstm_reference.ts";
import { type Made, probabilities, SPECS } from "./_pipeline_forward.ts";
import { assertSameWeights } from "./_weights.ts";

const ignore = await skipUnlessTorch("comparing the classifier with the pipeline's PyTorch model");
await tf.setBackend("wasm");
await tf.ready();
assert.equal(tf.getBackend(), "wasm");

Deno.test({
  name:
    "an imported pipeline checkpoint predicts torch's own probabilities (1e-5) with the unmasked poolings",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      const made = await runPipeline<Made[]>("make", [dir], SPECS);
      for (const [i, spec] of SPECS.entries()) {
        const ckpt = readPipelineCheckpoint(await Deno.readFile(`${dir}/${i}/last.pt`));
        const config = pipelineModelConfig(ckpt.modelState, ckpt.args);
        assert.deepEqual(config, {
          inputSize: 3,
          hiddenSize: 5,
          numLayers: spec.num_layers,
          bidirectional: spec.bidirectional,
          dropout: 0.1,
          pooling: `${spec.pooling}-unmasked`,
          numClasses: 5,
        });
        for (const lstmImpl of ["fused", "layers"] as const) {
          await t.step(
            `${
              spec.bidirectional ? "bi" : "uni"
            } ${spec.num_layers} layers ${spec.pooling} ${lstmImpl}`,
            async () => {
              const model = createLstmClassifier({ ...config, lstmImpl }, { seed: 0 });
              loadTorchStateDict(model, ckpt.modelState);
              const p = await probabilities(model, made[i].x, made[i].lengths);
              const err = relativeError(p, made[i].probs);
              console.log(`  relative error vs torch: ${err}`);
              assert.ok(err <= 1e-5, `probabilities differ from torch's: ${err}`);
              // The toolkit's own (masked) pooling reads these windows differently.
              const masked = createLstmClassifier({
                ...config,
                pooling: spec.pooling as "last" | "mean",
                lstmImpl,
              }, { seed: 0 });
              loadTorchStateDict(masked, ckpt.modelState);
              const other = relativeError(
                await probabilities(masked, made[i].x, made[i].lengths),
                made[i].probs,
              );
              assert.ok(other > 1e-4, `masked pooling matches torch too (${other}): test is blind`);
              model.dispose();
              masked.dispose();
            },
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

interface Checked {
  probs: number[];
  model_state_type: string;
  has_metadata: boolean;
}

const X = [
  [[0, 0, 0], [0, 0, 0], [0.5, -1, 0.25], [1, 2, -0.5]],
  [[0.1, 0.2, 0.3], [0.3, 0.4, -0.2], [-0.5, 0.6, 0.1], [0.9, -0.3, 0.4]],
  [[0, 0, 0], [0, 0, 0], [0, 0, 0], [-1, 0.5, 2]],
];
const LENGTHS = [2, 4, 1];

Deno.test({
  name:
    "torchStateDict() loads strictly into the pipeline's LSTMClassifier, which predicts what the unmasked classifier predicts",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      for (
        const [i, cfg] of ([
          { bidirectional: true, numLayers: 2, pooling: "last-unmasked" },
          { bidirectional: false, numLayers: 1, pooling: "mean-unmasked" },
        ] as const).entries()
      ) {
        await t.step(`${cfg.bidirectional ? "bi" : "uni"} ${cfg.pooling}`, async () => {
          const config: ModelConfig = {
            inputSize: 3,
            hiddenSize: 4,
            dropout: 0,
            numClasses: 5,
            ...cfg,
          };
          const model = createLstmClassifier(config, { seed: 7 + i });
          const args = new Map<string, PyValue>([
            ["hidden_size", 4n],
            ["num_layers", BigInt(cfg.numLayers)],
            ["bidirectional", cfg.bidirectional],
            ["dropout", 0.0],
            ["pooling", cfg.pooling.replace("-unmasked", "")],
            ["lr", 0.001],
            ["weight_decay", 1e-4],
            ["step_lr_step_size", 10n],
            ["step_lr_gamma", 0.5],
          ]);
          const path = `${dir}/ours${i}.pt`;
          await Deno.writeFile(
            path,
            writePipelineCheckpoint({
              epoch: 0,
              modelState: await torchStateDict(model),
              optimizerState: null,
              schedulerState: null,
              bestValF1: null,
              args,
              torchRngState: torchCpuRngState(1n),
            }, { archiveName: `ours${i}` }),
          );
          const got = await runPipeline<Checked>("check", [path], {
            x: X,
            lengths: LENGTHS,
            labels: [0, 1, 2],
          });
          assert.equal(got.model_state_type, "OrderedDict");
          assert.equal(got.has_metadata, true);
          const err = relativeError(await probabilities(model, X, LENGTHS), got.probs);
          assert.ok(err <= 1e-5, `torch's probabilities differ from ours: ${err}`);
          model.dispose();
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "exportTorchStateDict() (model.safetensors) loads strictly into the pipeline's LSTMClassifier",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const config: ModelConfig = {
        inputSize: 3,
        hiddenSize: 4,
        numLayers: 2,
        bidirectional: true,
        dropout: 0.1,
        pooling: "last-unmasked",
        numClasses: 5,
      };
      const model = createLstmClassifier(config, { seed: 3 });
      await Deno.writeFile(`${dir}/model.safetensors`, await exportTorchStateDict(model));
      const got = await runPipeline<{ missing: string[]; unexpected: string[]; probs: number[] }>(
        "safetensors",
        [`${dir}/model.safetensors`],
        { x: X, lengths: LENGTHS },
      );
      assert.deepEqual([got.missing, got.unexpected], [[], []]);
      const err = relativeError(await probabilities(model, X, LENGTHS), got.probs);
      assert.ok(err <= 1e-5, `torch's probabilities differ from ours: ${err}`);
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const CONFIG: ModelConfig = {
  inputSize: 3,
  hiddenSize: 2,
  numLayers: 2,
  bidirectional: true,
  dropout: 0,
  pooling: "last",
  numClasses: 4,
};

Deno.test("torchParameters() lists the pipeline's state-dict keys in parameter order", () => {
  const model = createLstmClassifier(CONFIG, { seed: 1 });
  const lstm = [0, 1].flatMap((l) =>
    ["", "_reverse"].flatMap((s) =>
      ["weight_ih", "weight_hh", "bias_ih", "bias_hh"].map((k) => `lstm.${k}_l${l}${s}`)
    )
  );
  const head = [0, 3, 6].flatMap((j) => [`classifier.${j}.weight`, `classifier.${j}.bias`]);
  assert.deepEqual(torchParameters(model).map((p) => p.torchName), [...lstm, ...head]);
  assert.deepEqual(torchParameters(model).find((p) => p.torchName === "lstm.weight_ih_l1")?.shape, [
    8,
    4,
  ]);
  model.dispose();
});

Deno.test("loadTorchStateDict() round-trips torchStateDict() and converts other float dtypes", async () => {
  const a = createLstmClassifier(CONFIG, { seed: 1 });
  const b = createLstmClassifier(CONFIG, { seed: 2 });
  const state = await torchStateDict(a);
  // float64 in, as a state dict saved after model.double() would hold.
  const wide = new Map<string, TorchTensor>();
  for (const [k, v] of state) {
    const t = v as TorchTensor;
    wide.set(
      k as string,
      new TorchTensor("float64", t.shape, Float64Array.from(t.data as Float32Array)),
    );
  }
  loadTorchStateDict(b, wide);
  await assertSameWeights(b, a);
  a.dispose();
  b.dispose();
});

Deno.test("loadTorchStateDict() and pipelineModelConfig() name what does not fit", async () => {
  const model = createLstmClassifier(CONFIG, { seed: 1 });
  const state = await torchStateDict(model);
  const before = await model.namedVariables[0].variable.data();
  const ints = new Map(state);
  ints.set("classifier.6.bias", new TorchTensor("int64", [4], new BigInt64Array(4)));
  assert.throws(() => loadTorchStateDict(model, ints), {
    name: "TypeError",
    message:
      'Cannot load classifier weight "classifier.6.bias": expected a floating-point tensor, received int64',
  });
  const extra = new Map(state);
  extra.set("head.0.weight", float32Tensor([1], new Float32Array(1)));
  extra.delete("classifier.0.weight");
  assert.throws(() => loadTorchStateDict(model, extra), {
    name: "RangeError",
    message: 'Cannot load classifier weights: missing ["classifier.0.weight"], unexpected ' +
      '["head.0.weight"]; check hiddenSize, numLayers and bidirectional match the saved model',
  });
  assert.deepEqual(await model.namedVariables[0].variable.data(), before, "changed on failure");

  assert.throws(() => pipelineModelConfig(state, new Map([["hidden_size", 128n]])), {
    name: "RangeError",
    message: "Cannot build the model config of the pipeline checkpoint: args.hidden_size is 128, " +
      "the state dict says 2",
  });
  assert.throws(() => pipelineModelConfig(state, new Map([["pooling", "max"]])), {
    name: "RangeError",
    message:
      "Cannot build the model config of the pipeline checkpoint: args.pooling must be one of " +
      "last, mean, last-masked, mean-masked, found max",
  });
  assert.throws(
    () => pipelineModelConfig(new Map([["fc.weight", float32Tensor([1], new Float32Array(1))]])),
    {
      name: "RangeError",
      message: "Cannot build the model config of the pipeline checkpoint: model_state has no " +
        "lstm.weight_ih_l0 (keys: fc.weight, ...)",
    },
  );
  assert.deepEqual(pipelineModelConfig(state), {
    inputSize: 3,
    hiddenSize: 2,
    numLayers: 2,
    bidirectional: true,
    dropout: 0,
    pooling: "last-unmasked",
    numClasses: 4,
  });
  model.dispose();
});
