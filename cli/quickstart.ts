/**
 * `deno task quickstart`: makes sample data if there is none, then trains with the seed
 * guide's example flags into `artifacts_quickstart/`, scaled down where needed to finish
 * in about 5 minutes on 2 CPU cores, and says what it changed and why.
 *
 * @module
 */
import { generateSample } from "../src/data/sample.ts";
import { openNpz } from "../src/npz/open_npz_deno.ts";
import { writeNpz } from "../src/npz/write_npz.ts";
import { main as trainMain } from "./train.ts";

/** The seed guide's example flags (the PyTorch pipeline's README). */
export const GUIDE_FLAGS: readonly string[] = Object.freeze([
  "--batch-size",
  "64",
  "--hidden-size",
  "128",
  "--num-layers",
  "2",
  "--bidirectional",
  "--weighted-loss",
]);

/** Largest training file (rows) quickstart trains on; bigger data gets its own sample. */
export const QUICKSTART_MAX_ROWS = 4096;

/** Rows of the sample quickstart generates when there is no data. */
export const QUICKSTART_SAMPLE = Object.freeze({ trainRows: 2048, valRows: 1024, seed: 7 });

/**
 * What quickstart changes from the guide, and why. Measured on 2 shared CPU cores (wasm,
 * batch 64): the guide's model (hidden 128, 2 bidirectional layers) took ~25 s per step,
 * i.e. ~13 minutes per epoch of 2048 rows; hidden 32 with 1 bidirectional layer took
 * ~0.9 s per step (~35 s per epoch with validation, ~60 s on busy cores) and beats the always-0 val
 * macro-F1 by epoch 3.
 */
export const QUICKSTART_CHANGES: readonly { flags: string[]; why: string }[] = Object.freeze([
  {
    flags: ["--hidden-size", "32", "--num-layers", "1"],
    why: "the guide's hidden 128 x 2 bidirectional layers takes ~25 s per step on 2 CPU cores " +
      "(wasm), ~13 min per epoch of 2048 rows; hidden 32 x 1 bidirectional layer takes ~0.9 s",
  },
  {
    flags: ["--epochs", "4"],
    why: "4 epochs (35-60 s each on 2 busy cores) fit the ~5 minute budget; the default is 20",
  },
]);

async function rowsOf(path: string): Promise<number | null> {
  try {
    using npz = await openNpz(path);
    return npz.members.find((m) => m.name === "sequences")?.shape[0] ?? null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")) || ".", { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Picks (and if needed generates) the data quickstart trains on. */
async function prepareData(): Promise<{ train: string; val: string; stats: string }> {
  let dir = "data", stats = "artifacts/feature_stats.json";
  const rows = await rowsOf(`${dir}/train_sequences.npz`);
  const haveAll = rows !== null && await exists(`${dir}/val_sequences.npz`) && await exists(stats);
  if (haveAll && rows! <= QUICKSTART_MAX_ROWS) {
    console.log(`quickstart: using the existing ${dir}/train_sequences.npz (${rows} rows)`);
    return { train: `${dir}/train_sequences.npz`, val: `${dir}/val_sequences.npz`, stats };
  }
  if (rows !== null) {
    dir = "data/quickstart";
    stats = `${dir}/feature_stats.json`;
    console.log(
      `quickstart: data/train_sequences.npz has ${rows} rows (more than ${QUICKSTART_MAX_ROWS}, or ` +
        `its val/stats files are missing); using a sample in ${dir}/ to stay within ~5 minutes`,
    );
  }
  const paths = { train: `${dir}/train_sequences.npz`, val: `${dir}/val_sequences.npz`, stats };
  if (await exists(paths.train) && await exists(paths.val) && await exists(paths.stats)) {
    return paths;
  }
  const { trainRows, valRows, seed } = QUICKSTART_SAMPLE;
  console.log(
    `quickstart: generating sample data (${trainRows} train / ${valRows} val rows, seed ${seed})`,
  );
  const sample = generateSample({ trainRows, valRows, seed });
  await writeFileAtomic(paths.train, writeNpz(sample.train, { compress: true }));
  await writeFileAtomic(paths.val, writeNpz(sample.val, { compress: true }));
  await writeFileAtomic(
    paths.stats,
    new TextEncoder().encode(JSON.stringify(sample.featureStats, null, 2) + "\n"),
  );
  console.log(`quickstart: wrote ${paths.train}, ${paths.val}, ${paths.stats}`);
  return paths;
}

/** Runs the quickstart; returns the exit status. `extraArgs` are passed on to train. */
export async function main(extraArgs: readonly string[] = []): Promise<number> {
  const t0 = performance.now();
  const data = await prepareData();
  const changed = QUICKSTART_CHANGES.flatMap((c) => c.flags);
  for (const c of QUICKSTART_CHANGES) console.log(`quickstart: ${c.flags.join(" ")}: ${c.why}`);
  const args = [
    "--train-npz",
    data.train,
    "--val-npz",
    data.val,
    "--feature-stats",
    data.stats,
    "--output-dir",
    "artifacts_quickstart",
    ...GUIDE_FLAGS,
    ...changed,
    "--log-interval",
    "8",
    "--mlflow",
    ...extraArgs,
  ];
  console.log(`quickstart: deno task train ${args.join(" ")}`);
  const status = await trainMain(args);
  console.log(
    `quickstart: finished in ${((performance.now() - t0) / 1000).toFixed(0)} s (status ${status})`,
  );
  return status;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
