/**
 * Tiny real trainings for the MLflow 3 tests: sample data written by `deno task sample`,
 * `deno task train` / `deno task sweep` run as subprocesses on the wasm backend.
 */
const ROOT = new URL("../../", import.meta.url).pathname;

/** Paths of a tiny data set. */
export interface TinyData {
  readonly train: string;
  readonly val: string;
  readonly stats: string;
}

/** Writes seeded sample data (`rows` training windows of `steps` steps) into `dir`. */
export async function tinyData(dir: string, rows = 48, steps = 16): Promise<TinyData> {
  const out = await runDeno("cli/sample.ts", [
    "--train-rows",
    String(rows),
    "--val-rows",
    String(Math.max(24, rows / 2)),
    "--steps",
    String(steps),
    "--out-dir",
    `${dir}/data`,
    "--stats-out",
    `${dir}/data/feature_stats.json`,
  ]);
  if (out.code !== 0) throw new Error(`deno task sample failed: ${out.output}`);
  return {
    train: `${dir}/data/train_sequences.npz`,
    val: `${dir}/data/val_sequences.npz`,
    stats: `${dir}/data/feature_stats.json`,
  };
}

/** The train flags of a tiny wasm training on `data`. */
export function tinyTrainArgs(data: TinyData, epochs = 2): string[] {
  return [
    "--train-npz",
    data.train,
    "--val-npz",
    data.val,
    "--feature-stats",
    data.stats,
    "--device",
    "cpu",
    "--epochs",
    String(epochs),
    "--hidden-size",
    "8",
    "--num-layers",
    "1",
    "--batch-size",
    "16",
  ];
}

/** Runs `deno run -A <script> <args>` from the repository root; output is stdout + stderr. */
export async function runDeno(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
