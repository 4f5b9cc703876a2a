/**
 * The record a training leaves (issue 11), through real `cli/train.ts` child processes on
 * numpy-written data, read back with MLflow's own client: the output folder is never
 * silently replaced, `--resume-from` continues the same MLflow run, `metrics.csv` always
 * equals the checkpoint plus the new epochs (also after SIGKILLs), interrupted checkpoint
 * commits are recovered, bad data is refused before anything is written, and `mlflow.user`
 * falls back to the account name.
 */
import assert from "#assert";
import { pythonJson, runPython, skipUnlessPython } from "../_python.ts";
import { pyRuns } from "../tracking/_py_dump.ts";
import { exists, runCli, spawnCli, tinyTrainArgs, writeTinyData } from "./_train_cli.ts";

const ignore = await skipUnlessPython("numpy", "mlflow");
const PY_ENV = { MLFLOW_ALLOW_FILE_STORE: "true", GIT_PYTHON_REFRESH: "quiet" };

/** Epoch column of a metrics.csv text. */
function csvEpochs(text: string): number[] {
  return text.trim().split("\n").slice(1).map((l) => Number(l.split(",")[0]));
}

Deno.test({
  name:
    "train: an output folder holding another training's outputs is an error; --overwrite replaces them and says so",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_outdir_" });
    try {
      const data = await writeTinyData(dir);
      const args = [...tinyTrainArgs(data, `${dir}/out`), "--epochs", "1"];
      assert.equal((await runCli("train", args)).code, 0);
      const before = await Deno.readTextFile(`${dir}/out/metrics.csv`);
      const again = await runCli("train", args);
      assert.equal(again.code, 1);
      assert.equal(
        again.stderr.trim(),
        `error: Cannot train into ${dir}/out: it holds another training's outputs (metrics.csv, ` +
          `last, best, last.pt, best.pt); continue that training with --resume-from ${dir}/out/last, replace ` +
          "them with --overwrite, or pass another --output-dir",
      );
      assert.equal(await Deno.readTextFile(`${dir}/out/metrics.csv`), before, "nothing touched");
      const both = await runCli("train", [
        ...args,
        "--overwrite",
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(both.code, 1);
      assert.match(both.stderr, /Cannot use --resume-from with --overwrite/);
      const over = await runCli("train", [...args, "--overwrite", "--seed", "9"]);
      assert.equal(over.code, 0, over.stderr);
      assert.match(
        over.stdout,
        new RegExp(
          `--overwrite: removed metrics.csv, last, best, last.pt, best.pt of the previous training in ${dir}/out`,
        ),
      );
      assert.deepEqual(csvEpochs(await Deno.readTextFile(`${dir}/out/metrics.csv`)), [0]);
      assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`)).loop.seed, 9);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train --resume-from continues the same MLflow run; from best/ (or a deleted run, or another store) a new run, and says why",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "record_resume_" });
    try {
      const data = await writeTinyData(dir);
      const mlruns = `${dir}/mlruns`;
      const tracked = (out: string, store = mlruns) => [
        ...tinyTrainArgs(data, out),
        "--mlflow",
        "--mlflow-tracking-uri",
        store,
        "--data-version",
        "v1",
        "--model-tag",
        "t",
      ];
      const first = await runCli("train", [...tracked(`${dir}/out`), "--epochs", "2"]);
      assert.equal(first.code, 0, first.stderr);
      const [run1] = await pyRuns(mlruns, "component-x-lstm");
      const state = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`));
      assert.deepEqual(state.run, { runId: run1.id, experimentId: run1.experiment_id });
      // Keep the epoch-2 checkpoint: an older checkpoint once the run has gone further.
      await runPython(`import shutil, sys\nshutil.copytree(sys.argv[1], sys.argv[2])`, {
        args: [`${dir}/out/last`, `${dir}/epoch2`],
      });

      await t.step("from last/: the same run, RUNNING again, then FINISHED", async () => {
        const r = await runCli("train", [
          ...tracked(`${dir}/out`),
          "--epochs",
          "3",
          "--resume-from",
          `${dir}/out/last`,
          "--lr",
          "0.002", // a changed setting: params are not rewritten (they are immutable)
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          new RegExp(`MLflow: continuing run v1-l8-t-run1 \\(${run1.id}\\) after epoch 2`),
        );
        const runs = await pyRuns(mlruns, "component-x-lstm");
        assert.equal(runs.length, 1, "no second run");
        const [run] = runs;
        assert.equal(run.status, "FINISHED");
        assert.deepEqual(run.params, run1.params, "params unchanged");
        for (const key of ["val_macro_f1", "train_loss", "lr"]) {
          assert.deepEqual(run.history[key].map((p) => p[0]), [0, 1, 2], key);
        }
        const csv = await Deno.readTextFile(`${dir}/out/metrics.csv`);
        assert.deepEqual(csvEpochs(csv), [0, 1, 2]);
        assert.equal(await Deno.readTextFile(`${dir}/out/last/metrics.csv`), csv);
        // MLflow's epoch-3 values are the csv's.
        const row3 = csv.trim().split("\n")[3].split(",");
        assert.equal(run.history.val_macro_f1[2][1], Number(row3[5]));
      });

      await t.step(
        "from an older checkpoint (epoch 2, as best/ can be): metrics.csv is its rows plus the new epochs; a new run",
        async () => {
          const r = await runCli("train", [
            ...tracked(`${dir}/out`),
            "--epochs",
            "4",
            "--resume-from",
            `${dir}/epoch2`,
          ]);
          assert.equal(r.code, 0, r.stderr);
          assert.match(
            r.stdout,
            new RegExp(
              `MLflow: starting a new run: cannot continue the checkpoint's run: its run ${run1.id} ` +
                `already holds 3 epochs, the checkpoint 2 \\(MLflow cannot remove logged steps\\)`,
            ),
          );
          assert.match(
            r.stdout,
            /metrics\.csv: rewritten from the checkpoint's 2 epochs \(it held 3 rows/,
          );
          const csv = await Deno.readTextFile(`${dir}/out/metrics.csv`);
          assert.deepEqual(csvEpochs(csv), [0, 1, 2, 3]);
          const before = await Deno.readTextFile(`${dir}/epoch2/metrics.csv`);
          assert.ok(csv.startsWith(before), "the checkpoint's rows, unchanged, then the new ones");
          const runs = await pyRuns(mlruns, "component-x-lstm");
          assert.equal(runs.length, 2);
          const fresh = runs.find((r) => r.id !== run1.id)!;
          assert.equal(fresh.name, "v1-l8-t-run2");
          assert.equal(fresh.tags["toolkit.resumed_from_run_id"], run1.id);
        },
      );

      await t.step("a deleted run: a new run, and says so", async () => {
        const runs = await pyRuns(mlruns, "component-x-lstm");
        const current = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`)).run;
        await runPython(
          `import sys\nfrom mlflow import MlflowClient\nMlflowClient(sys.argv[1]).delete_run(sys.argv[2])`,
          { args: [mlruns, current.runId], env: PY_ENV },
        );
        const r = await runCli("train", [
          ...tracked(`${dir}/out`),
          "--epochs",
          "5",
          "--resume-from",
          `${dir}/out/last`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          new RegExp(`cannot continue the checkpoint's run: its run ${current.runId} is deleted`),
        );
        assert.equal((await pyRuns(mlruns, "component-x-lstm")).length, runs.length);
      });

      await t.step("a checkpoint from another store: a new run there, and says so", async () => {
        const r = await runCli("train", [
          ...tracked(`${dir}/out`, `${dir}/other_mlruns`),
          "--epochs",
          "6",
          "--resume-from",
          `${dir}/out/last`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          /cannot continue the checkpoint's run: its run [0-9a-f]{32} is not in .*other_mlruns/,
        );
        const [other] = await pyRuns(`${dir}/other_mlruns`, "component-x-lstm");
        assert.deepEqual(other.history.val_macro_f1.map((p) => p[0]), [5]);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train: SIGKILL at any moment never leaves metrics.csv ahead of last/; resuming gives each epoch once",
  ignore: ignore || Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_kill_" });
    try {
      const data = await writeTinyData(dir, { trainRows: 32, valRows: 8 });
      const args = [...tinyTrainArgs(data, `${dir}/out`), "--epochs", "400", "--log-interval", "1"];
      for (const [i, delay] of [700, 1300, 1900].entries()) {
        const live = spawnCli(
          "train",
          i === 0 ? args : [...args, "--resume-from", `${dir}/out/last`],
        );
        // Wait for the first saved checkpoint of this process, then kill it a while later.
        await live.until("saved ");
        await new Promise((r) => setTimeout(r, delay));
        live.child.kill("SIGKILL");
        await live.finish();
        const last = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`)).epoch;
        const own = csvEpochs(await Deno.readTextFile(`${dir}/out/last/metrics.csv`));
        assert.deepEqual(
          own,
          Array.from({ length: last }, (_, k) => k), // epochs count from 0
          "last/ and its rows agree",
        );
        const top = csvEpochs(await Deno.readTextFile(`${dir}/out/metrics.csv`));
        // Replaced right after last/: equal, or one row behind when killed in between.
        assert.ok(
          top.length === last || top.length === last - 1,
          `metrics.csv has ${top.length} rows, last/ is at epoch ${last}`,
        );
        assert.deepEqual(top, own.slice(0, top.length));
      }
      // Resume to the end of a few more epochs: every epoch exactly once, in order.
      const last = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`)).epoch;
      const r = await runCli("train", [
        ...tinyTrainArgs(data, `${dir}/out`),
        "--epochs",
        String(last + 2),
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        csvEpochs(await Deno.readTextFile(`${dir}/out/metrics.csv`)),
        Array.from({ length: last + 2 }, (_, k) => k),
      );
      const leftovers = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name)
        .filter((n) => n.includes(".tmp-") || n.includes(".old-"));
      assert.deepEqual(leftovers, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train: a checkpoint write killed between its renames is finished; stale tmp folders are removed",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_recover_" });
    try {
      const data = await writeTinyData(dir);
      const args = tinyTrainArgs(data, `${dir}/out`);
      assert.equal((await runCli("train", [...args, "--epochs", "2"])).code, 0);
      // The state a kill leaves between writeCheckpointDir's two renames: last/ moved aside
      // (epoch 1, from best/), the new one complete in last.tmp-<pid>; plus a stale tmp.
      await Deno.rename(`${dir}/out/last`, `${dir}/out/last.tmp-4242`);
      await runPython(`import shutil, sys\nshutil.copytree(sys.argv[1], sys.argv[2])`, {
        args: [`${dir}/out/best`, `${dir}/out/last.old-4242`],
      });
      await Deno.mkdir(`${dir}/out/best.tmp-777`);
      await Deno.writeTextFile(`${dir}/out/metrics.csv.tmp-777`, "half");
      const r = await runCli("train", [
        ...args,
        "--epochs",
        "3",
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /recovered .*\/out\/last\/ from .*last\.tmp-4242\//);
      assert.match(
        r.stdout,
        /removed .*\/out\/best\.tmp-777\/ left by an interrupted checkpoint write/,
      );
      assert.match(r.stdout, /resuming from .*\/out\/last: epoch 2 done/);
      const names = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
      assert.deepEqual(names, [
        "best",
        "best.pt",
        "feature_stats.json",
        "last",
        "last.pt",
        "metrics.csv",
      ]);
      assert.deepEqual(csvEpochs(await Deno.readTextFile(`${dir}/out/metrics.csv`)), [0, 1, 2]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train: Ctrl-C mid-epoch (default --log-interval) stops after the step, marks the run KILLED, exits 130; resuming finishes it",
  ignore: ignore || Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_sigint_step_" });
    try {
      // 1000 steps of 2 windows per epoch; progress is read back every 100 steps only.
      const data = await writeTinyData(dir, { trainRows: 2000, valRows: 8 });
      const args = [
        ...tinyTrainArgs(data, `${dir}/out`),
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--mlflow",
        "--mlflow-tracking-uri",
        `${dir}/mlruns`,
      ];
      const live = spawnCli("train", args);
      await live.until("training epochs 1..1");
      await new Promise((r) => setTimeout(r, 700));
      const t0 = performance.now();
      live.child.kill("SIGINT");
      const { code, out } = await live.finish();
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(code, 130, out);
      const state = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`));
      console.log(
        `exit ${seconds.toFixed(2)} s after SIGINT, at step ${state.stepInEpoch} of 1000`,
      );
      assert.equal(state.epoch, 0, "stopped inside epoch 1, not at its end");
      assert.ok(state.stepInEpoch > 0 && state.stepInEpoch < 1000, `${state.stepInEpoch}`);
      assert.match(out, /MLflow: run l8-run1 KILLED/);
      const [killed] = await pyRuns(`${dir}/mlruns`, "component-x-lstm");
      assert.equal(killed.status, "KILLED");
      const r = await runCli("train", [...args, "--resume-from", `${dir}/out/last`]);
      assert.equal(r.code, 0, r.stderr);
      const [done] = await pyRuns(`${dir}/mlruns`, "component-x-lstm");
      assert.deepEqual([done.id, done.status], [killed.id, "FINISHED"]);
      assert.deepEqual(done.history.val_macro_f1.map((p) => p[0]), [0]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "train: Ctrl-C during validation stops after the current batch, writes last/ and exits 130",
  ignore: ignore || Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_sigint_val_" });
    try {
      // 2 training steps, then 7500 validation batches of 2 windows (seconds).
      const data = await writeTinyData(dir, { trainRows: 4, valRows: 15000, steps: 16 });
      const live = spawnCli("train", [
        ...tinyTrainArgs(data, `${dir}/out`),
        "--batch-size",
        "2",
        "--epochs",
        "2",
        "--log-interval",
        "1",
      ]);
      await live.until("step 2/2");
      await new Promise((r) => setTimeout(r, 300)); // inside validation now
      const t0 = performance.now();
      live.child.kill("SIGINT");
      const { code, out } = await live.finish();
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(code, 130, out);
      assert.doesNotMatch(out, /epoch 1\/2 train_loss/, "validation did not finish");
      const state = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`));
      assert.deepEqual([state.epoch, state.stepInEpoch, state.partial.seen], [0, 2, 4]);
      console.log(`exit ${seconds.toFixed(2)} s after SIGINT during validation`);
      assert.ok(seconds < 5, `${seconds} s`);
      // Resuming validates epoch 1 and goes on.
      const r = await runCli("train", [
        ...tinyTrainArgs(data, `${dir}/out`),
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--resume-from",
        `${dir}/out/last`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(csvEpochs(await Deno.readTextFile(`${dir}/out/metrics.csv`)), [0]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train refuses bad data and impossible sizes before writing anything, naming the file, key, row and feature or the flags",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "record_baddata_" });
    try {
      const data = await writeTinyData(dir);
      await runPython(
        `
import sys, numpy as np
d = sys.argv[1]
z = np.load(f"{d}/train.npz"); x = z["sequences"].copy(); y = z["labels"]; L = z["seq_lengths"]
x[5, 7, 2] = np.inf
np.savez(f"{d}/inf.npz", sequences=x, labels=y, seq_lengths=L)
x = z["sequences"].copy(); x[3, 7, 0] = -np.inf   # a counter: the clip would hide it
np.savez(f"{d}/neginf.npz", sequences=x, labels=y, seq_lengths=L)
x = z["sequences"].copy(); x[5, 7, 1] = np.nan    # NaN is imputed: accepted
np.savez(f"{d}/nan.npz", sequences=x, labels=y, seq_lengths=L)
x = z["sequences"].copy(); L2 = L.copy(); L2[4] = 1; x[4, 0, 1] = np.inf  # in padding: zeroed
np.savez(f"{d}/padinf.npz", sequences=x, labels=y, seq_lengths=L2)
np.savez(f"{d}/empty.npz", sequences=np.zeros((0, 8, 3), np.float32), labels=np.zeros(0, np.int64), seq_lengths=np.zeros(0, np.int64))`,
        { args: [dir] },
      );
      const mlruns = `${dir}/mlruns`;
      const train = (extra: string[], trainNpz = data.train, valNpz = data.val) =>
        runCli("train", [
          ...tinyTrainArgs({ ...data, train: trainNpz, val: valNpz }, `${dir}/out`),
          "--epochs",
          "1",
          "--mlflow",
          "--mlflow-tracking-uri",
          mlruns,
          ...extra,
        ]);
      const refused = async (r: { code: number; stderr: string }, message: RegExp) => {
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, message);
        assert.ok(!(await exists(`${dir}/out`)), "no output folder");
        assert.ok(!(await exists(mlruns)), "no MLflow store");
      };
      await t.step("+Inf in the training file", async () => {
        await refused(
          await train([], `${dir}/inf.npz`),
          new RegExp(
            `^error: Cannot use --train-npz ${dir}/inf\\.npz: "sequences" row 5, step 7, feature "f2" is Infinity; only NaN is allowed`,
          ),
        );
      });
      await t.step("-Inf in a counter of the validation file", async () => {
        await refused(
          await train([], data.train, `${dir}/neginf.npz`),
          new RegExp(
            `^error: Cannot use --val-npz ${dir}/neginf\\.npz: "sequences" row 3, step 7, feature "f0" is -Infinity`,
          ),
        );
      });
      await t.step("a zero-row file", async () => {
        await refused(
          await train([], `${dir}/empty.npz`),
          new RegExp(`^error: Cannot use --train-npz ${dir}/empty\\.npz: "sequences" has 0 rows`),
        );
        await refused(
          await train([], data.train, `${dir}/empty.npz`),
          new RegExp(`^error: Cannot use --val-npz ${dir}/empty\\.npz: "sequences" has 0 rows`),
        );
      });
      await t.step("--hidden-size 50000", async () => {
        await refused(
          await train(["--hidden-size", "50000"]),
          /^error: Cannot train: the model \(--hidden-size 50000, --num-layers 1\) has 1\.00e\+10 parameters; training it needs about \d+\.\d GB .*; lower --hidden-size, --num-layers or --batch-size/,
        );
      });
      await t.step("NaN, and Inf in padded steps, are fine (the control)", async () => {
        const r = await train([], `${dir}/nan.npz`, `${dir}/padinf.npz`);
        assert.equal(r.code, 0, r.stderr);
        const csv = await Deno.readTextFile(`${dir}/out/metrics.csv`);
        assert.ok(!/nan|inf/i.test(csv.split("\n")[1]), csv);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "train: mlflow.user falls back to the account name when LOGNAME/USER/LNAME/USERNAME are unset",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "record_user_" });
    try {
      const data = await writeTinyData(dir);
      const account = await pythonJson<string>(
        "import json, os, pwd\nprint(json.dumps(pwd.getpwuid(os.getuid()).pw_name))",
      );
      const run = (out: string, env: Record<string, string>) =>
        runCli("train", [
          ...tinyTrainArgs(data, out),
          "--epochs",
          "1",
          "--mlflow",
          "--mlflow-tracking-uri",
          `${dir}/mlruns`,
          "--mlflow-run-name",
          out.split("/").pop()!,
        ], { env });
      // runCli passes USER through; "" = unset for our lookup, as for getpass.
      const a = await run(`${dir}/a`, { USER: "", LOGNAME: "", LNAME: "", USERNAME: "" });
      assert.equal(a.code, 0, a.stderr);
      const b = await run(`${dir}/b`, { USER: "ann", LOGNAME: "lo" });
      assert.equal(b.code, 0, b.stderr);
      const runs = await pyRuns(`${dir}/mlruns`, "component-x-lstm");
      const user = (name: string) => runs.find((r) => r.name === name)!.tags["mlflow.user"];
      assert.equal(user("a"), account);
      assert.notEqual(account, "unknown");
      assert.equal(user("b"), "lo", "LOGNAME first, as Python's getpass.getuser()");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
