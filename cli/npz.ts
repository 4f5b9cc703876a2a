/**
 * `deno task npz <file>...`: a first look at `.npz` / `.npy` files.
 *
 * @module
 */
import { parseArgs } from "#args";
import { type NpyArray, readNpy } from "../src/npz/mod.ts";
import { openNpz } from "../src/npz/open_npz_deno.ts";
import { flagsError, runMain } from "./_cli.ts";

const HELP = `deno task npz [flags] <file.npz|file.npy>...

Prints each array's name, dtype, shape, storage (stored/deflated), the NaN count of float
arrays, and for an integer array named "labels" (or --labels-key) the class histogram.
Arrays are read one at a time, so memory stays about one array.

Flags:
  --labels-key KEY   integer array to histogram (default labels)
  --json             print one JSON object per file instead of text
  --max-member-mb N  refuse arrays larger than N MiB uncompressed (default 4096)
  -h, --help         print this help
`;

const FLAGS = ["--labels-key", "--json", "--max-member-mb", "--help"];

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        "labels-key": { type: "string", default: "labels" },
        json: { type: "boolean", default: false },
        "max-member-mb": { type: "string", default: "4096" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (cause) {
    throw flagsError("npz", cause, FLAGS);
  }
}

interface ArraySummary {
  name: string;
  dtype: string;
  shape: number[];
  storage: string;
  nanCount?: number;
  classCounts?: Record<string, number>;
}

function summarise(name: string, a: NpyArray, storage: string, labelsKey: string): ArraySummary {
  const s: ArraySummary = { name, dtype: a.dtype, shape: a.shape, storage };
  if (a.dtype.startsWith("float")) {
    let nan = 0;
    const d = a.data as Float32Array | Float64Array;
    for (let i = 0; i < d.length; i++) if (d[i] !== d[i]) nan++;
    s.nanCount = nan;
  }
  if (name === labelsKey && /int|bool/.test(a.dtype)) {
    const counts = new Map<string, number>();
    for (const v of a.data as Iterable<number | bigint>) {
      const k = String(v);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const keys = [...counts.keys()].sort((x, y) => Number(BigInt(x) - BigInt(y)));
    s.classCounts = Object.fromEntries(keys.map((k) => [k, counts.get(k)!]));
  }
  return s;
}

async function inspect(path: string, labelsKey: string, maxBytes: number) {
  if (path.endsWith(".npy")) {
    const a = readNpy(await Deno.readFile(path), { name: path });
    return [summarise("(npy)", a, "npy", labelsKey)];
  }
  using npz = await openNpz(path, { maxMemberBytes: maxBytes });
  const out: ArraySummary[] = [];
  for (const m of npz.members) {
    const a = await npz.read(m.name);
    out.push(summarise(m.name, a, m.compressed ? "deflated" : "stored", labelsKey));
  }
  return out;
}

function formatText(path: string, arrays: ArraySummary[]): string {
  const lines = [`${path}: ${arrays.length} array(s)`];
  for (const a of arrays) {
    let line = `  ${a.name.padEnd(22)} ${a.dtype.padEnd(8)} (${a.shape.join(", ")}${
      a.shape.length === 1 ? "," : ""
    })  ${a.storage}`;
    if (a.nanCount !== undefined) {
      const n = a.shape.reduce((x, y) => x * y, 1);
      line += `  NaN ${a.nanCount}${n ? ` (${((100 * a.nanCount) / n).toFixed(2)}%)` : ""}`;
    }
    lines.push(line);
    if (a.classCounts) {
      const total = Object.values(a.classCounts).reduce((x, y) => x + y, 0);
      for (const [k, c] of Object.entries(a.classCounts)) {
        lines.push(
          `      class ${k.padStart(3)}: ${String(c).padStart(8)}  ${
            ((100 * c) / total).toFixed(2).padStart(6)
          }%`,
        );
      }
    }
  }
  return lines.join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new TypeError("Cannot inspect: no file given; usage: deno task npz <file.npz>...");
  }
  const mb = Number(values["max-member-mb"]);
  if (!(mb > 0)) {
    throw new RangeError(
      `Cannot use --max-member-mb ${JSON.stringify(values["max-member-mb"])}: expected a ` +
        `positive number of MiB`,
    );
  }
  for (const path of positionals) {
    let arrays: ArraySummary[];
    try {
      arrays = await inspect(path, values["labels-key"], mb * 2 ** 20);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`Cannot inspect ${path}: no such file`, { cause: e });
      }
      throw e;
    }
    console.log(
      values.json ? JSON.stringify({ path, arrays }) : formatText(path, arrays),
    );
  }
  return 0;
}

if (import.meta.main) await runMain(main);
