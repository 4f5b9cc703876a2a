/**
 * The PyTorch pipeline's `.pt` checkpoints through the commands, against real torch:
 * `deno task evaluate --checkpoint best.pt` gives torch's probabilities, `deno task train
 * --resume-from last.pt` continues to the same next-epoch loss and lr as torch's own resume,
 * and torch resumes from OUR last.pt (weights_only=True, strict) to the same loss as ours.
 *
 * Randomness cannot be shared with torch (its generator drives the pipeline's shuffling and
 * dropout), so the pipeline's loop here runs over the batch orders our trainer draws
 * (`epochBatches`, seed 42) with dropout 0: every other part of an epoch, from the restored
 * weights, AdamW moments and step to StepLR and gradient clipping, is compared.
 */
import assert from "#assert";
import { epochBatches } from "../../src/data/batches.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";

const ignore = await skipUnlessTorch("the pipeline's .pt checkpoints through train and evaluate");
const ROOT = new URL("../../", import.meta.url).pathname;

async function cli(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function csvRows(path: string): Record<string, string>[] {
  const [head, ...lines] = Deno.readTextFileSync(path).trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

const close = (a: number, b: number, rel: number) =>
  Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

const N_TRAIN = 40, BATCH = 16, SEED = 42, EPOCHS = 2;
/** Our trainer's batch order of 1-based epoch e (what the pipeline's loop is given too). */
const order = (e: number) =>
  epochBatches(new Int32Array(N_TRAIN), { batchSize: BATCH, seed: SEED, epoch: e }).map((b) => [
    ...b,
  ]);

interface RunOut {
  losses: number[];
  best_probs: number[];
  resume_loss: number;
  resume_lr: number;
}
interface ResumeOut {
  loss: number;
  lr: number;
  epoch: number;
  keys: string[];
  args: Record<string, unknown>;
  model_state_type: string;
}

Deno.test({
  name: "pipeline .pt: evaluate gives torch's probabilities; resume continues as torch's resume, " +
    "both ways",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "pipeline_parity_" });
    try {
      // torch: the pipeline's loop for 2 epochs (last.pt, best.pt), then its own resume.
      const run = await runPipeline<RunOut>("run", [dir], {
        n_train: N_TRAIN,
        n_val: 24,
        steps: 12,
        input_size: 5,
        hidden_size: 6,
        num_layers: 2,
        bidirectional: true,
        pooling: "last",
        batch_size: BATCH,
        lr: 0.01,
        step_size: 1,
        gamma: 0.5,
        grad_clip: 0.5,
        epochs: EPOCHS,
        planned_epochs: EPOCHS + 1,
        orders: [order(1), order(2), order(3)],
      });
      const data = [
        "--train-npz",
        `${dir}/train.npz`,
        "--val-npz",
        `${dir}/val.npz`,
        "--feature-stats",
        `${dir}/feature_stats.json`,
        "--device",
        "cpu",
      ];

      await t.step("evaluate --checkpoint best.pt: torch's probabilities (1e-5)", async () => {
        const r = await cli("evaluate.ts", [
          "--checkpoint",
          `${dir}/best.pt`,
          "--npz",
          `${dir}/val.npz`,
          "--output-dir",
          `${dir}/eval`,
          "--device",
          "cpu",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /Evaluated 24 windows/);
        const ours = csvRows(`${dir}/eval/predictions.csv`).flatMap((row) =>
          [0, 1, 2, 3, 4].map((j) => Number(row[`p${j}`]))
        );
        assert.equal(ours.length, run.best_probs.length);
        const worst = Math.max(...ours.map((p, i) => Math.abs(p - run.best_probs[i])));
        console.log(`  max |p - torch| = ${worst.toExponential(2)}`);
        assert.ok(worst < 1e-5, `max difference ${worst}`);
      });

      await t.step(
        "train --resume-from last.pt (config from its args): torch's next-epoch loss and lr",
        async () => {
          const r = await cli("train.ts", [
            ...data,
            "--resume-from",
            `${dir}/last.pt`,
            "--output-dir",
            `${dir}/ours`,
          ]);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /resuming from .*last\.pt: epoch 1 \(0-based\) done/);
          assert.match(r.stdout, /from its args: .*hidden_size 6.*pooling "last-unmasked"/);
          const rows = csvRows(`${dir}/ours/metrics.csv`);
          assert.deepEqual(rows.map((row) => row.epoch), [String(EPOCHS)]);
          const loss = Number(rows[0].train_loss);
          console.log(`  train_loss ${loss} vs torch ${run.resume_loss}`);
          assert.ok(close(loss, run.resume_loss, 1e-5), `${loss} vs ${run.resume_loss}`);
          assert.equal(Number(rows[0].lr), run.resume_lr);
        },
      );

      await t.step("torch resumes from OUR last.pt to our next-epoch loss", async () => {
        // Our last.pt of epoch 2 (0-based): torch and we each train epoch 3 from it.
        await Deno.copyFile(`${dir}/ours/last.pt`, `${dir}/ours_epoch2.pt`);
        const torch = await runPipeline<ResumeOut>("resume", [`${dir}/ours_epoch2.pt`], {
          train_npz: `${dir}/train.npz`,
          order: order(4),
        });
        assert.equal(torch.epoch, EPOCHS);
        assert.equal(torch.model_state_type, "OrderedDict");
        assert.deepEqual(torch.keys, [
          "args",
          "best_val_f1",
          "epoch",
          "model_state",
          "optimizer_state",
          "scheduler_state",
          "torch_rng_state",
        ]);
        assert.equal(torch.args.pooling, "last");
        assert.equal(torch.args.mlflow_tracking_uri, null);
        assert.equal(torch.args.grad_clip, 0.5);
        const r = await cli("train.ts", [
          ...data,
          "--resume-from",
          `${dir}/ours_epoch2.pt`,
          "--output-dir",
          `${dir}/ours2`,
          "--epoch", // argparse's abbreviation of --epochs
          String(EPOCHS + 2),
        ]);
        assert.equal(r.code, 0, r.stderr);
        const rows = csvRows(`${dir}/ours2/metrics.csv`);
        assert.deepEqual(rows.map((row) => row.epoch), [String(EPOCHS + 1)]);
        const loss = Number(rows[0].train_loss);
        console.log(`  train_loss ${loss} vs torch ${torch.loss}`);
        assert.ok(close(loss, torch.loss, 1e-5), `${loss} vs ${torch.loss}`);
        assert.equal(Number(rows[0].lr), torch.lr);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "train() writes last.pt and best.pt that torch loads as the pipeline does",
  ignore,
  async fn() {
    const tf = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-wasm");
    await tf.setBackend("wasm");
    const { smallData, tinyConfig } = await import("../train/_data.ts");
    const { train } = await import("../../src/train/train.ts");
    const data = await smallData(48, 24, 6, 3);
    const pts: Record<string, { epoch: number; pt?: Uint8Array }> = {};
    await train(
      tinyConfig({
        epochs: 2,
        bidirectional: true,
        pooling: "mean",
        gradClip: 1,
        stepLrStepSize: 1,
      }),
      data,
      { onCheckpoint: (c) => void (pts[c.kind] = { epoch: c.epoch, pt: c.pt }) },
    );
    const dir = await Deno.makeTempDir({ prefix: "train_pt_" });
    try {
      assert.ok(pts.last.pt && pts.best.pt, "both checkpoints carry a .pt");
      await Deno.writeFile(`${dir}/last.pt`, pts.last.pt!);
      await Deno.writeFile(`${dir}/best.pt`, pts.best.pt!);
      const loaded = await runPipeline<
        { epoch: number; lr: number; last_epoch: number; steps: number[]; pooling: string }[]
      >("load", [`${dir}/last.pt`, `${dir}/best.pt`], { input_size: 3 });
      assert.equal(loaded[0].epoch, 1, "last.pt: epoch 2 of 2, counted from 0");
      assert.equal(loaded[1].epoch, pts.best.epoch - 1);
      assert.equal(loaded[0].last_epoch, 2);
      assert.deepEqual(loaded[0].steps, [2 * Math.ceil(48 / tinyConfig().loop.batchSize)]);
      assert.equal(loaded[0].pooling, "mean-masked");
      const lr0 = tinyConfig().loop.lr;
      assert.equal(loaded[0].lr, lr0 * 0.5 * 0.5, "the rate after the second scheduler step");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
