/**
 * `deno task sample`: writes seeded Component-X-like sample data in the contract layout.
 *
 * @module
 */
import { parseArgs } from "#args";
import { generateSample } from "../src/data/mod.ts";
import { writeNpzFile } from "../src/npz/write_npz_file_deno.ts";
import { writeFileAtomic } from "../src/train/checkpoint_dir_deno.ts";
import { flagsError, integerFlag, runMain } from "./_cli.ts";

const HELP = `deno task sample [flags]

Writes seeded Component-X-like sample data in the data contract's layout:
  <out-dir>/train_sequences.npz   sequences float32 (N,128,105), labels, seq_lengths,
  <out-dir>/val_sequences.npz     vehicle_ids (int64), reference_time_step (float32);
                                  deflated like numpy's savez_compressed
  <stats-out>                     feature_stats.json recomputed on the generated train data
Train follows the real training class mix, validation the real validation mix (with at least
a few rows of every class). Same seed and sizes, same bytes.

Flags:
  --train-rows N      training windows (default 2048)
  --val-rows N        validation windows (default 1024)
  --steps N           window length (default 128)
  --seed N            integer seed (default 7)
  --out-dir DIR       where the .npz files go (default data)
  --stats-out FILE    feature statistics JSON (default artifacts/feature_stats.json)
  --force             overwrite existing files (otherwise they are kept and it fails)
  -h, --help          print this help
`;

const FLAGS = [
  "--train-rows",
  "--val-rows",
  "--steps",
  "--seed",
  "--out-dir",
  "--stats-out",
  "--force",
  "--help",
];

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        "train-rows": { type: "string", default: "2048" },
        "val-rows": { type: "string", default: "1024" },
        steps: { type: "string", default: "128" },
        seed: { type: "string", default: "7" },
        "out-dir": { type: "string", default: "data" },
        "stats-out": { type: "string", default: "artifacts/feature_stats.json" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (cause) {
    throw flagsError("sample", cause, FLAGS);
  }
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const trainRows = integerFlag("train-rows", values["train-rows"], 1);
  const valRows = integerFlag("val-rows", values["val-rows"], 1);
  const steps = integerFlag("steps", values.steps, 1);
  const seed = integerFlag("seed", values.seed, 0);
  const outDir = values["out-dir"].replace(/\/+$/, "") || ".";
  const trainPath = `${outDir}/train_sequences.npz`;
  const valPath = `${outDir}/val_sequences.npz`;
  const statsPath = values["stats-out"];
  if (!values.force) {
    const present: string[] = [];
    for (const p of [trainPath, valPath, statsPath]) if (await exists(p)) present.push(p);
    if (present.length > 0) {
      throw new Error(
        `Cannot write sample data: ${present.join(", ")} already exist(s); pass --force to ` +
          `overwrite, or --out-dir / --stats-out to write elsewhere`,
      );
    }
  }
  const t0 = performance.now();
  const sample = generateSample({ trainRows, valRows, seed, steps });
  for (const [path, split] of [[trainPath, sample.train], [valPath, sample.val]] as const) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await writeNpzFile(path, split, { compress: true });
    console.log(`wrote ${path} (${((await Deno.stat(path)).size / 1e6).toFixed(1)} MB)`);
  }
  const statsText = JSON.stringify(sample.featureStats, null, 2) + "\n";
  await Deno.mkdir(dirname(statsPath), { recursive: true });
  await writeFileAtomic(statsPath, new TextEncoder().encode(statsText));
  console.log(`wrote ${statsPath}`);
  for (const [name, split] of [["train", sample.train], ["val", sample.val]] as const) {
    const counts = [0, 0, 0, 0, 0];
    for (const y of split.labels.data) counts[Number(y)]++;
    let total = 0;
    for (const l of split.seq_lengths.data) total += Number(l);
    console.log(
      `${name}: ${split.labels.data.length} windows of ${steps} steps x ` +
        `${split.sequences.shape[2]} features, class counts 0..4 = ${counts.join("/")}, ` +
        `mean valid length ${(total / split.labels.data.length).toFixed(1)}`,
    );
  }
  console.log(`seed ${seed}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

if (import.meta.main) await runMain(main);
