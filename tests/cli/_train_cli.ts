/**
 * Helpers for tests that run `cli/train.ts` (and the other commands) as real child
 * processes on tiny data written by numpy.
 */
import { runPython } from "../_python.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Shapes of the tiny data set. */
export interface TinyDataOptions {
  trainRows?: number;
  valRows?: number;
  steps?: number;
  /** Features per step (named f0, f1, ...; f0 is a log1p counter). */
  features?: number;
  seed?: number;
}

/**
 * Writes `train.npz`, `val.npz` (the contract's members) and `stats.json` into `dir` with
 * numpy; returns the three paths.
 */
export async function writeTinyData(
  dir: string,
  options: TinyDataOptions = {},
): Promise<{ train: string; val: string; stats: string }> {
  const { trainRows = 48, valRows = 24, steps = 8, features = 3, seed = 0 } = options;
  await runPython(
    `
import json, sys, numpy as np
d, tr, va, T, F, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rng = np.random.default_rng(seed)
for name, n in [("train", tr), ("val", va)]:
    y = rng.integers(0, 5, size=n); L = rng.integers(1, T + 1, size=n)
    x = rng.normal(size=(n, T, F)).astype(np.float32); x[:, :, 0] = np.abs(x[:, :, 0]) + y[:, None]
    for i in range(n): x[i, : T - L[i]] = 0
    np.savez_compressed(f"{d}/{name}.npz", sequences=x, labels=y, seq_lengths=L)
names = [f"f{j}" for j in range(F)]
stats = {"feature_order": names, "counters": ["f0"], "histograms": names[1:],
         "per_feature": {k: {"transform": "log1p-znorm" if k == "f0" else "znorm", "mean": 0.5, "std": 1.5} for k in names}}
json.dump(stats, open(f"{d}/stats.json", "w"))`,
    {
      args: [
        dir,
        String(trainRows),
        String(valRows),
        String(steps),
        String(features),
        String(seed),
      ],
    },
  );
  return { train: `${dir}/train.npz`, val: `${dir}/val.npz`, stats: `${dir}/stats.json` };
}

/** Flags of a tiny wasm training on `writeTinyData`'s files into `out`. */
export function tinyTrainArgs(
  data: { train: string; val: string; stats: string },
  out: string,
): string[] {
  return [
    "--train-npz",
    data.train,
    "--val-npz",
    data.val,
    "--feature-stats",
    data.stats,
    "--output-dir",
    out,
    "--batch-size",
    "16",
    "--hidden-size",
    "4",
    "--num-layers",
    "1",
    "--device",
    "cpu",
  ];
}

/** What a finished command printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cli/<command>.ts` as a child process. `env` is added to a minimal environment
 * (PATH, HOME, NO_COLOR, Deno's and Mesa's cache folders), so that the caller's MLflow
 * variables never leak in.
 */
export async function runCli(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  const out = await cliCommand(command, args, options).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The `Deno.Command` of {@link runCli}, for callers that spawn and signal it. */
export function cliCommand(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; stdin?: "null" | "piped" } = {},
): Deno.Command {
  const keep: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "MESA_SHADER_CACHE_DIR", "TMPDIR", "USER"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) keep[name] = value;
  }
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}cli/${command}.ts`, ...args],
    cwd: options.cwd ?? ROOT,
    clearEnv: true,
    env: { ...keep, ...options.env },
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** True when `path` exists (a file, folder or link). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A command running as a child process whose stdout is read as it comes. */
export interface LiveCli {
  readonly child: Deno.ChildProcess;
  /** stdout so far. */
  output(): string;
  /** Reads stdout until it contains `text`; throws when the process ends first. */
  until(text: string): Promise<void>;
  /** Reads the rest of stdout and waits for the exit; stderr is discarded. */
  finish(): Promise<{ code: number; out: string }>;
}

/** Spawns `cli/<command>.ts` (see {@link cliCommand}) for a test that signals it. */
export function spawnCli(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): LiveCli {
  const child = cliCommand(command, args, options).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  return {
    child,
    output: () => out,
    async until(text) {
      while (!out.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the output ended before "${text}":\n${out}`);
        out += value;
      }
    },
    async finish() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const status = await child.status;
      await child.stderr.cancel();
      return { code: status.code, out };
    },
  };
}
