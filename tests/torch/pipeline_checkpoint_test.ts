import assert from "#assert";
import {
  type AdamWStateDict,
  decodePipelineCheckpoint,
  float32Tensor,
  type PipelineCheckpoint,
  type PyValue,
  readPipelineCheckpoint,
  readTorchFile,
  torchCpuRngState,
  writePipelineCheckpoint,
} from "../../src/torch/mod.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";

const ignore = await skipUnlessTorch("reading and writing the PyTorch pipeline's checkpoints");

interface Made {
  x: number[][][];
  lengths: number[];
  labels: number[];
  probs: number[];
  model_state: Record<string, { shape: number[]; values: number[] }>;
  optimizer: Record<string, { step: number; exp_avg: number[]; exp_avg_sq: number[] }>;
  param_groups: Record<string, unknown>[];
  scheduler: Record<string, unknown>;
  rng: number[];
  args: Record<string, unknown>;
}

interface Checked {
  keys: string[];
  epoch: number;
  best_val_f1: number;
  probs: number[];
  model_state_type: string;
  has_metadata: boolean;
  lr_before: number;
  step_before: number[];
  loss: number;
  last_lr: number[];
  params_after: Record<string, number[]>;
}

const SPEC = {
  input_size: 3,
  hidden_size: 4,
  num_layers: 2,
  bidirectional: true,
  dropout: 0.2,
  pooling: "last",
  batch: 5,
  steps: 6,
  epochs: 3,
  step_size: 2,
  gamma: 0.3,
};

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "readPipelineCheckpoint() reads the pipeline's last.pt exactly: weights, AdamW and StepLR states, args (paths, numpy floats), RNG state",
  ignore,
  async fn() {
    await withDir(async (dir) => {
      const made = await runPipeline<Made>("make", [dir], {
        ...SPEC,
        path_arg: true,
        numpy_f1: true,
      });
      const ckpt = readPipelineCheckpoint(await Deno.readFile(`${dir}/last.pt`));
      assert.equal(ckpt.epoch, SPEC.epochs - 1);
      assert.equal(ckpt.bestValF1, 0.25 + 0.1 * (SPEC.epochs - 1)); // an np.float64 in the file
      assert.deepEqual([...ckpt.modelState.keys()], Object.keys(made.model_state));
      for (const [name, t] of ckpt.modelState) {
        assert.equal(t.dtype, "float32", name);
        assert.deepEqual(t.shape, made.model_state[name].shape, name);
        assert.deepEqual(Array.from(t.data as Float32Array), made.model_state[name].values, name);
      }
      const opt = ckpt.optimizerState!;
      assert.equal(opt.state.size, Object.keys(made.optimizer).length);
      for (const [i, s] of opt.state) {
        const want = made.optimizer[String(i)];
        assert.equal(s.step, want.step);
        assert.deepEqual(Array.from(s.expAvg.data as Float32Array), want.exp_avg);
        assert.deepEqual(Array.from(s.expAvgSq.data as Float32Array), want.exp_avg_sq);
      }
      const [group] = opt.paramGroups;
      const g = made.param_groups[0];
      assert.equal(group.lr, g.lr);
      assert.deepEqual(group.betas, g.betas);
      assert.equal(group.eps, g.eps);
      assert.equal(group.weightDecay, g.weight_decay);
      assert.equal(group.initialLr, g.initial_lr);
      assert.deepEqual(group.params, g.params);
      assert.equal(group.others?.get("decoupled_weight_decay"), g.decoupled_weight_decay);
      const s = ckpt.schedulerState!;
      assert.deepEqual(
        [s.stepSize, s.gamma, s.baseLrs, s.lastEpoch, s.stepCount, s.lastLr],
        [
          made.scheduler.step_size,
          made.scheduler.gamma,
          made.scheduler.base_lrs,
          made.scheduler.last_epoch,
          made.scheduler._step_count,
          made.scheduler._last_lr,
        ],
      );
      assert.deepEqual(Array.from(ckpt.torchRngState!), made.rng);
      // args: ints stay ints, floats floats, the pathlib.Path a string, None null.
      assert.equal(ckpt.args.get("hidden_size"), 4n);
      assert.equal(ckpt.args.get("dropout"), 0.2);
      assert.equal(ckpt.args.get("output_dir"), made.args.output_dir);
      assert.equal(ckpt.args.get("grad_clip"), null);
      assert.equal(ckpt.args.get("bidirectional"), true);
    });
  },
});

Deno.test({
  name:
    "writePipelineCheckpoint() of a decoded last.pt loads with weights_only=True, and torch resumes from it exactly as from the original",
  ignore,
  async fn() {
    await withDir(async (dir) => {
      const made = await runPipeline<Made>("make", [dir], SPEC);
      const ckpt = readPipelineCheckpoint(await Deno.readFile(`${dir}/last.pt`));
      await Deno.writeFile(
        `${dir}/ours.pt`,
        writePipelineCheckpoint(ckpt, { archiveName: "ours" }),
      );
      const input = { x: made.x, lengths: made.lengths, labels: made.labels };
      const original = await runPipeline<Checked>("check", [`${dir}/last.pt`, "--trusted"], input);
      const ours = await runPipeline<Checked>("check", [`${dir}/ours.pt`], input);
      assert.equal(ours.model_state_type, "OrderedDict");
      assert.equal(ours.has_metadata, true);
      assert.deepEqual(ours, { ...original, model_state_type: "OrderedDict" });
      assert.ok(original.step_before.every((s) => s === SPEC.epochs * 2), "AdamW steps");
    });
  },
});

Deno.test({
  name:
    "writePipelineCheckpoint() built from scratch: torch's AdamW and StepLR load_state_dict accept it and resume",
  ignore,
  async fn() {
    await withDir(async (dir) => {
      // The shapes of a 1-layer unidirectional model with 2 inputs, hidden 3, 5 classes.
      const shapes: Record<string, number[]> = {
        "lstm.weight_ih_l0": [12, 2],
        "lstm.weight_hh_l0": [12, 3],
        "lstm.bias_ih_l0": [12],
        "lstm.bias_hh_l0": [12],
        "classifier.0.weight": [128, 3],
        "classifier.0.bias": [128],
        "classifier.3.weight": [64, 128],
        "classifier.3.bias": [64],
        "classifier.6.weight": [5, 64],
        "classifier.6.bias": [5],
      };
      let k = 0;
      const fill = (shape: number[], scale: number, f: (i: number) => number = Math.sin) =>
        float32Tensor(
          shape,
          Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * f(++k)),
        );
      const modelState = new Map(Object.entries(shapes).map(([n, s]) => [n, fill(s, 0.3)]));
      const optimizerState: AdamWStateDict = {
        state: new Map(
          Object.values(shapes).map((s, i) => [i, {
            step: 7,
            expAvg: fill(s, 0.01),
            expAvgSq: fill(s, 0.0001, (i) => Math.abs(Math.sin(i))),
          }]),
        ),
        paramGroups: [{
          lr: 0.0005,
          betas: [0.9, 0.999],
          eps: 1e-8,
          weightDecay: 1e-4,
          amsgrad: false,
          maximize: false,
          initialLr: 0.001,
          params: Object.keys(shapes).map((_, i) => i),
        }],
      };
      const ckpt: PipelineCheckpoint = {
        epoch: 3,
        modelState,
        optimizerState,
        schedulerState: {
          stepSize: 2,
          gamma: 0.5,
          baseLrs: [0.001],
          lastEpoch: 3,
          lastLr: [0.0005],
        },
        bestValF1: 0.4,
        args: new Map<string, PyValue>([
          ["hidden_size", 3n],
          ["num_layers", 1n],
          ["bidirectional", false],
          ["dropout", 0.0],
          ["pooling", "mean"],
          ["lr", 0.001],
          ["weight_decay", 1e-4],
          ["step_lr_step_size", 2n],
          ["step_lr_gamma", 0.5],
        ]),
        torchRngState: torchCpuRngState(11n),
      };
      await Deno.writeFile(
        `${dir}/ours.pt`,
        writePipelineCheckpoint(ckpt, { archiveName: "ours" }),
      );
      const x = [[[0, 0], [0.5, -1], [1, 2]], [[0.1, 0.2], [0.3, 0.4], [-0.5, 0.6]]];
      const got = await runPipeline<Checked>("check", [`${dir}/ours.pt`], {
        x,
        lengths: [2, 3],
        labels: [1, 4],
      });
      assert.deepEqual(got.keys, [
        "args",
        "best_val_f1",
        "epoch",
        "model_state",
        "optimizer_state",
        "scheduler_state",
        "torch_rng_state",
      ]);
      assert.equal(got.epoch, 3);
      assert.equal(got.lr_before, 0.0005);
      assert.deepEqual(got.step_before, Array(10).fill(7));
      // StepLR(step 2, gamma 0.5) from 1e-3, stepped to epoch 4: 1e-3 * 0.5^2.
      assert.deepEqual(got.last_lr, [0.00025]);
      assert.ok(Number.isFinite(got.loss));
      // Reading our file back gives what we wrote.
      const back = decodePipelineCheckpoint(readTorchFile(await Deno.readFile(`${dir}/ours.pt`)));
      assert.deepEqual(back.schedulerState?.lastLr, [0.0005]);
      assert.equal(back.optimizerState?.state.get(9)?.step, 7);
      assert.deepEqual(back.torchRngState, ckpt.torchRngState);
    });
  },
});

Deno.test({
  name: "torchCpuRngState() equals torch.get_rng_state() after torch.manual_seed()",
  ignore,
  async fn() {
    const seeds = [0n, 42n, 2n ** 40n + 7n, 2n ** 64n - 1n];
    const want = await runPipeline<number[][]>("rng", seeds.map(String));
    seeds.forEach((seed, i) => {
      assert.deepEqual(Array.from(torchCpuRngState(seed)), want[i], `seed ${seed}`);
    });
  },
});

Deno.test("decodePipelineCheckpoint() names the missing or mistyped key", () => {
  assert.throws(() => decodePipelineCheckpoint(new Map([["epoch", 1n]])), {
    name: "TypeError",
    message: "Cannot read the pipeline checkpoint: key 'model_state' is missing (keys: epoch); " +
      "not a checkpoint of the PyTorch pipeline's train_lstm.py?",
  });
  assert.throws(
    () =>
      decodePipelineCheckpoint(
        new Map<PyValue, PyValue>([["epoch", "3"], ["model_state", new Map()], [
          "args",
          new Map(),
        ]]),
      ),
    {
      name: "TypeError",
      message: "Cannot read the pipeline checkpoint: epoch must be a number, found str",
    },
  );
});
