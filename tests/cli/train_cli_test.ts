import assert from "#assert";
import { runPython, skipUnlessPython } from "../_python.ts";
import { probeAdapterSafely } from "../_webgpu.ts";
import { parseTrainArgs, TRAIN_FLAGS } from "../../cli/_train_flags.ts";
import { TRAIN_HELP } from "../../cli/_train_help.ts";
import { DEFAULT_TRAIN_JOB } from "../../src/jobs/run_spec.ts";

const ignore = await skipUnlessPython("numpy");
const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs cli/train.ts as a subprocess. */
async function trainCli(args: string[], cwd = ROOT) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/train.ts`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("parseTrainArgs() gives the contract's defaults and reads every flag", () => {
  assert.deepEqual(parseTrainArgs([]).job, DEFAULT_TRAIN_JOB);
  const { job } = parseTrainArgs([
    "--batch-size",
    "32",
    "--epochs",
    "3",
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--bidirectional",
    "--dropout",
    "0.2",
    "--pooling",
    "mean",
    "--lr",
    "0.01",
    "--weight-decay",
    "0",
    "--step-lr-step-size",
    "2",
    "--step-lr-gamma",
    "0.1",
    "--weighted-loss",
    "--weighted-sampler",
    "--focal-loss",
    "--grad-clip",
    "1.5",
    "--device",
    "cuda",
    "--log-interval",
    "5",
    "--mlflow",
    "--mlflow-experiment",
    "e",
    "--seed",
    "7",
    "--patience",
    "2",
    "--x-key",
    "X",
    "--y-key",
    "Y",
    "--lengths-key",
    "L",
    "--lstm-impl",
    "layers",
    "--data-version",
    "v1",
    "--model-tag",
    "m",
    "--bucket-by-length",
    "--task",
    "t.json",
    "--num-classes",
    "3",
  ]);
  const { model, loop, run } = job;
  assert.deepEqual([run.task, run.numClasses], ["t.json", 3]);
  assert.equal(loop.batchSize, 32);
  assert.equal(model.bidirectional, true);
  assert.equal(model.pooling, "mean");
  assert.equal(loop.gradClip, 1.5);
  assert.equal(run.device, "cuda");
  assert.equal(model.lstmImpl, "layers");
  assert.equal(loop.bucketByLength, true);
  assert.equal(loop.weightedSampler && loop.focalLoss && run.mlflow, true);
  assert.deepEqual([run.xKey, run.yKey, run.lengthsKey], ["X", "Y", "L"]);
  assert.equal(run.mlflowExperiment, "e");
  assert.deepEqual([loop.seed, loop.patience, loop.logInterval], [7, 2, 5]);
  assert.ok(Object.isFrozen(job) && Object.isFrozen(model) && Object.isFrozen(loop));
  assert.ok(Object.isFrozen(run));
});

Deno.test("TRAIN_HELP documents every flag", () => {
  for (const flag of TRAIN_FLAGS) {
    assert.ok(TRAIN_HELP.includes(flag), `${flag} missing from --help`);
  }
});

Deno.test("parseTrainArgs() rejects bad values naming the flag and what is allowed", async (t) => {
  const cases: [string[], string][] = [
    [["--batch-size", "-4"], `Cannot use --batch-size "-4": expected an integer >= 1`],
    [["--hidden-size", "1.5"], `Cannot use --hidden-size "1.5": expected an integer >= 1`],
    [["--epochs", "0"], `Cannot use --epochs "0": expected an integer >= 1`],
    [["--dropout", "1"], `Cannot use --dropout "1": expected a number in [0, 1)`],
    [["--lr", "abc"], `Cannot use --lr "abc": expected a number > 0`],
    [["--grad-clip", "-1"], `Cannot use --grad-clip "-1": expected a number >= 0 (0 = off)`],
    [["--pooling", "max"], `Cannot use --pooling "max": expected one of last, mean`],
    [["--lstm-impl", "cudnn"], `Cannot use --lstm-impl "cudnn": expected one of fused, layers`],
    [
      ["--device", "tpu"],
      `Cannot use --device "tpu": expected one of auto, cuda, gpu, webgpu, cpu, wasm, tfjs-cpu`,
    ],
    [
      ["--mlflow-tracking-uri", "databricks://x"],
      `Cannot use --mlflow-tracking-uri "databricks://x": the scheme databricks: is not ` +
      "supported; expected http(s)://host[:port]",
    ],
    [
      ["--mlflow-tracking-uri", "127.0.0.1:5000"],
      `Cannot use --mlflow-tracking-uri "127.0.0.1:5000": it looks like host:port without a ` +
      "scheme; pass http://127.0.0.1:5000",
    ],
    [
      ["--mlflow-tracking-uri", "http://ann:s3cret@host:5000"],
      `Cannot use --mlflow-tracking-uri "http://host:5000": credentials in the URI are refused`,
    ],
    [["--train-npz", ""], `Cannot use --train-npz "": expected a non-empty value`],
    [["--num-classes", "1"], `Cannot use --num-classes "1": expected an integer >= 2`],
    [["--task", ""], `Cannot use --task "": expected a non-empty value`],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(
        () => parseTrainArgs(args),
        (e: Error) => e instanceof RangeError && e.message.startsWith(message),
      );
    });
  }
});

Deno.test("parseTrainArgs() rejects an unknown flag and a missing value", () => {
  assert.throws(
    () => parseTrainArgs(["--hiden-size", "3"]),
    (e: Error) =>
      e instanceof TypeError &&
      e.message.startsWith(
        "Cannot parse the train flags: unknown flag --hiden-size; allowed flags: --train-npz,",
      ),
  );
  assert.throws(
    () => parseTrainArgs(["--epochs"]),
    (e: Error) =>
      e instanceof TypeError &&
      e.message.startsWith(
        "Cannot parse the train flags: Option '--epochs <value>' argument missing",
      ),
  );
});

Deno.test("cli/train.ts exits 1 with the flag's error and 0 with --help", async (t) => {
  await t.step("--help", async () => {
    const r = await trainCli(["--help"]);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.includes("--resume-from PATH"));
  });
  await t.step("negative size", async () => {
    const r = await trainCli(["--batch-size", "-1"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `error: Cannot use --batch-size "-1": expected an integer >= 1`);
  });
  await t.step("missing feature stats", async () => {
    const r = await trainCli(["--feature-stats", "nope/stats.json", "--device", "cpu"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: Cannot read --feature-stats nope\/stats\.json: file not found; `deno task sample` writes/,
    );
  });
});

Deno.test({
  name:
    "cli/train.ts trains on wasm, writes metrics.csv, last/ and best/, and --resume-from appends epoch 2",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_cli_" });
    try {
      // numpy writes a tiny 105-feature-free data set (4 features) and matching stats.
      await runPython(
        `
import json, sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(0)
for name, n in [("train", 48), ("val", 24)]:
    y = rng.integers(0, 5, size=n); L = rng.integers(1, 9, size=n)
    x = rng.normal(size=(n, 8, 4)).astype(np.float32); x[:, :, 0] += y[:, None]
    for i in range(n): x[i, : 8 - L[i]] = 0
    np.savez_compressed(f"{d}/{name}.npz", sequences=x, labels=y, seq_lengths=L)
names = ["c0", "h0", "h1", "h2"]
stats = {"feature_order": names, "counters": ["c0"], "histograms": names[1:],
         "per_feature": {k: {"transform": "log1p-znorm" if k == "c0" else "znorm", "mean": 0.5, "std": 1.5} for k in names}}
json.dump(stats, open(f"{d}/stats.json", "w"))`,
        { args: [dir] },
      );
      const common = [
        "--train-npz",
        `${dir}/train.npz`,
        "--val-npz",
        `${dir}/val.npz`,
        "--feature-stats",
        `${dir}/stats.json`,
        "--output-dir",
        `${dir}/out`,
        "--batch-size",
        "16",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--device",
        "cpu",
        "--log-interval",
        "1",
      ];
      const first = await trainCli([...common, "--epochs", "1"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(
        first.stdout,
        /backend: wasm \| adapter: none \| cpu requested; using the wasm backend/,
      );
      assert.match(
        first.stdout,
        /epoch 1\/1 step 3\/3 100% loss [\d.]+ \| \d+ ms\/step \| elapsed 00:\d\d ETA 00:00/,
      );
      for (const kind of ["last", "best"]) {
        const names = [...Deno.readDirSync(`${dir}/out/${kind}`)].map((e) => e.name).sort();
        assert.deepEqual(names, [
          "feature_stats.json",
          "metrics.csv",
          "model.safetensors",
          "optimizer.safetensors",
          "state.json",
          "weights.safetensors",
        ]);
      }
      const resumed = await trainCli([
        ...common,
        "--epochs",
        "2",
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /training epochs 2\.\.2/);
      assert.match(resumed.stdout, /resuming from .*\/out\/last: epoch 1 done\n/);
      assert.doesNotMatch(resumed.stdout, /note: settings differ/);
      const csv = Deno.readTextFileSync(`${dir}/out/metrics.csv`).trim().split("\n");
      assert.equal(
        csv[0],
        "epoch,train_loss,train_acc,val_loss,val_acc,val_macro_f1,lr,val_cost,epoch_seconds",
      );
      // As the pipeline: epochs from 0.
      assert.deepEqual(csv.slice(1).map((l) => l.split(",")[0]), ["0", "1"]);
      assert.equal(
        Deno.readTextFileSync(`${dir}/out/feature_stats.json`),
        Deno.readTextFileSync(`${dir}/stats.json`),
      );
      const changed = await trainCli([
        ...common,
        "--epochs",
        "2",
        "--lr",
        "0.5",
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(
        changed.stdout,
        /note: settings differ from the checkpoint \(lr 0\.001 -> 0\.5\); the result will not match/,
      );
      const stateText = Deno.readTextFileSync(`${dir}/out/last/state.json`);
      const state = JSON.parse(stateText);
      assert.equal(state.format, 2);
      assert.equal(state.epoch, 2);
      assert.equal(state.modelConfig.hiddenSize, 4);
      assert.equal(state.loop.epochs, 2);
      assert.equal(state.run, null, "an untracked run has no MLflow run id");
      assert.ok(!stateText.includes(dir), "a checkpoint holds no paths");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli/train.ts rejects a val file whose feature count differs, naming --val-npz",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_cli_" });
    try {
      await runPython(
        `
import json, sys, numpy as np
d = sys.argv[1]
for name, f in [("train", 2), ("val", 3)]:
    np.savez_compressed(f"{d}/{name}.npz", sequences=np.zeros((4, 3, f), np.float32),
                        labels=np.zeros(4, np.int64), seq_lengths=np.ones(4, np.int64))
json.dump({"feature_order": ["a", "b"], "per_feature": {k: {"transform": "znorm", "mean": 0, "std": 1} for k in "ab"}},
          open(f"{d}/stats.json", "w"))`,
        { args: [dir] },
      );
      const r = await trainCli([
        "--train-npz",
        `${dir}/train.npz`,
        "--val-npz",
        `${dir}/val.npz`,
        "--feature-stats",
        `${dir}/stats.json`,
        "--output-dir",
        `${dir}/out`,
        "--device",
        "cpu",
      ]);
      assert.equal(r.code, 1);
      // The val file is checked against the stats' feature_order (= train's) while loading.
      assert.equal(
        r.stderr.trim(),
        `error: Cannot use --val-npz ${dir}/val.npz: it has 3 features per step but the feature stats ` +
          "list 2 (feature_order); pass data and --feature-stats from the same pipeline",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli/train.ts on SIGINT finishes the step, writes last/ mid-epoch and exits 130",
  ignore: ignore || Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_cli_" });
    try {
      await runPython(
        `
import json, sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(1)
for name, n in [("train", 400), ("val", 8)]:
    np.savez_compressed(f"{d}/{name}.npz", sequences=rng.normal(size=(n, 6, 2)).astype(np.float32),
                        labels=rng.integers(0, 5, size=n), seq_lengths=rng.integers(1, 7, size=n))
json.dump({"feature_order": ["a", "b"], "per_feature": {k: {"transform": "znorm", "mean": 0, "std": 1} for k in "ab"}},
          open(f"{d}/stats.json", "w"))`,
        { args: [dir] },
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}cli/train.ts`,
          "--train-npz",
          `${dir}/train.npz`,
          "--val-npz",
          `${dir}/val.npz`,
          "--feature-stats",
          `${dir}/stats.json`,
          "--output-dir",
          `${dir}/out`,
          "--device",
          "cpu",
          "--batch-size",
          "2",
          "--hidden-size",
          "4",
          "--num-layers",
          "1",
          "--log-interval",
          "1",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      let out = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      while (!out.includes("step 2/200")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      child.kill("SIGINT");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const status = await child.status;
      await child.stderr.cancel();
      assert.equal(status.code, 130, out);
      assert.match(out, /interrupt: finishing the current step and writing last\//);
      assert.match(out, /run KILLED/);
      const state = JSON.parse(Deno.readTextFileSync(`${dir}/out/last/state.json`));
      // Steps are fast: the signal may land in a later epoch; it is a mid-epoch position anyway.
      assert.ok(state.epoch < 20, `epoch ${state.epoch}`);
      assert.ok(
        state.stepInEpoch >= 1 && state.stepInEpoch <= 200,
        `stepInEpoch ${state.stepInEpoch}`,
      );
      assert.ok(state.epoch > 0 || state.stepInEpoch >= 2);
      assert.equal(state.partial.seen, 2 * state.stepInEpoch);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("parseTrainArgs() follows the pipeline's argparse: prefixes, aliases, warnings", async (t) => {
  await t.step("an unambiguous prefix is the flag, an exact name wins", () => {
    const { job, given } = parseTrainArgs(["--epoch", "3", "--hidden", "8", "--mlflow"]);
    assert.equal(job.loop.epochs, 3);
    assert.equal(job.model.hiddenSize, 8);
    assert.equal(job.run.mlflow, true, "--mlflow is exact though --mlflow-* share it");
    assert.deepEqual([...given].sort(), ["epochs", "hiddenSize", "mlflow"]);
  });
  await t.step("an ambiguous prefix names the candidates", () => {
    assert.throws(() => parseTrainArgs(["--step-lr", "2"]), {
      name: "TypeError",
      message:
        /^Cannot parse the train flags: ambiguous option: --step-lr could match --step-lr-step-size, --step-lr-gamma; allowed flags/,
    });
  });
  await t.step("--class-weighted is weighted loss + sampler, with a deprecation warning", () => {
    const { job, warnings, given } = parseTrainArgs(["--class-weighted"]);
    assert.equal(job.loop.weightedLoss, true);
    assert.equal(job.loop.weightedSampler, true);
    assert.deepEqual(warnings, [
      "warning: --class-weighted is deprecated; it means --weighted-loss --weighted-sampler",
    ]);
    assert.ok(given.has("weightedLoss") && given.has("weightedSampler"));
  });
  await t.step("--focal-loss with --weighted-loss says the weights are ignored", () => {
    const { warnings } = parseTrainArgs(["--focal-loss", "--weighted-loss"]);
    assert.match(warnings[0], /--focal-loss ignores --weighted-loss \(as the PyTorch pipeline\)/);
    assert.deepEqual(parseTrainArgs(["--focal-loss"]).warnings, []);
  });
  await t.step("--device cuda:0 is accepted, cuda:1 is not", () => {
    assert.equal(parseTrainArgs(["--device", "cuda:0"]).job.run.device, "cuda:0");
    assert.throws(() => parseTrainArgs(["--device", "cuda:1"]), {
      name: "RangeError",
      message: 'Cannot use --device "cuda:1": WebGPU offers one adapter; use cuda or cuda:0',
    });
  });
  await t.step("the pipeline's poolings; no --val-npz means no validation", () => {
    assert.equal(parseTrainArgs(["--pooling", "mean-unmasked"]).job.model.pooling, "mean-unmasked");
    assert.equal(parseTrainArgs([]).job.run.valNpz, "");
  });
});

Deno.test({
  name: "cli/train.ts: --device cuda without a hardware adapter fails as PyTorch without CUDA",
  ignore,
  async fn() {
    // The adapter as a child process sees it: WebGPU never runs in the test process.
    const probe = await probeAdapterSafely();
    if (probe && !probe.isFallbackAdapter) {
      console.warn(
        `*** SKIPPING the no-GPU case: a hardware adapter is present (${probe.description})`,
      );
      return;
    }
    const r = await trainCli([
      "--device",
      "cuda",
      "--feature-stats",
      "src/data/component_x_feature_stats.json",
      "--train-npz",
      "nope.npz",
    ]);
    assert.equal(r.code, 1);
    const line = r.stderr.trim();
    assert.match(line, /^error: Cannot use --device cuda: CUDA not available: /);
    if (probe) {
      assert.ok(line.includes(`the software adapter "${probe.description}"`), line);
      assert.match(line, /pass --device cpu .*, or --device webgpu to use the software adapter/);
    } else {
      assert.match(line, /no WebGPU adapter \(no GPU\); pass --device cpu/);
    }
  },
});

Deno.test({
  name:
    "cli/train.ts without --val-npz trains unvalidated (empty val cells, no best); a missing --resume-from starts from scratch",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_cli_" });
    try {
      await runPython(
        `
import json, sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(1)
y = rng.integers(0, 5, size=20); L = rng.integers(1, 7, size=20)
x = rng.normal(size=(20, 6, 2)).astype(np.float32)
for i in range(20): x[i, : 6 - L[i]] = 0
np.savez_compressed(f"{d}/train.npz", sequences=x, labels=y, seq_lengths=L)
json.dump({"feature_order": ["a", "b"], "per_feature": {k: {"transform": "znorm", "mean": 0, "std": 1} for k in "ab"}},
          open(f"{d}/stats.json", "w"))`,
        { args: [dir] },
      );
      const r = await trainCli([
        "--train-npz",
        `${dir}/train.npz`,
        "--feature-stats",
        `${dir}/stats.json`,
        "--output-dir",
        `${dir}/out`,
        "--device",
        "cpu",
        "--hidden",
        "3",
        "--num-layers",
        "1",
        "--epochs",
        "2",
        "--resume-from",
        `${dir}/out/last.pt`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /--resume-from .*\/out\/last\.pt not found: starting from scratch/);
      assert.match(r.stdout, /no --val-npz: training without validation/);
      assert.match(r.stdout, /epoch 1\/2 train_loss [\d.]+ train_acc [\d.]+ \(no validation\) lr/);
      const csv = Deno.readTextFileSync(`${dir}/out/metrics.csv`).trim().split("\n");
      assert.equal(csv.length, 3);
      for (const row of csv.slice(1)) {
        const cells = row.split(",");
        assert.deepEqual(cells.slice(3, 6), ["", "", ""], `val cells of ${row}`);
        assert.equal(cells[7], "", "val_cost");
      }
      const names = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
      assert.deepEqual(names, ["feature_stats.json", "last", "last.pt", "metrics.csv"]);
      // Our last.pt (args pooling "last-masked") evaluates exactly as the last/ folder.
      const evaluate = (checkpoint: string, out: string) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `${ROOT}cli/evaluate.ts`,
            "--checkpoint",
            checkpoint,
            "--npz",
            `${dir}/train.npz`,
            "--output-dir",
            out,
            "--device",
            "cpu",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
      for (const [checkpoint, out] of [["last.pt", "eval_pt"], ["last", "eval_dir"]]) {
        const e = await evaluate(`${dir}/out/${checkpoint}`, `${dir}/${out}`);
        assert.ok(e.success, new TextDecoder().decode(e.stderr));
      }
      assert.equal(
        Deno.readTextFileSync(`${dir}/eval_pt/predictions.csv`),
        Deno.readTextFileSync(`${dir}/eval_dir/predictions.csv`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
