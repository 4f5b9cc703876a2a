/**
 * A hyper-parameter sweep, as data: the trials of a grid (every combination, the first key
 * varying slowest) or of a seeded random search over a space, the share of one shard
 * (`--shard i/n` takes trials i, i+n, i+2n, ... so n machines split a sweep without
 * talking to each other), the sweep's id (the same on every machine for the same
 * definition), and the comparison table of its child runs. Keys are `deno task train`
 * flags without their dashes; a trial becomes train flags.
 *
 * @module
 */
import { SeededRng } from "../data/seeded_rng.ts";

/** A flag value of a trial: booleans switch a flag on or off. */
export type TrialValue = string | number | boolean;

/** One trial: flag name (no dashes) -> value, in the definition's key order. */
export type Trial = Readonly<Record<string, TrialValue>>;

/** How a random search draws one key. */
export type SpaceDimension =
  | { readonly choice: readonly TrialValue[] }
  | { readonly uniform: readonly [number, number] }
  | { readonly loguniform: readonly [number, number] }
  | { readonly int: readonly [number, number] };

/** The sweep's definition, all it takes to list its trials. */
export type SweepDefinition =
  | { readonly kind: "grid"; readonly grid: Readonly<Record<string, readonly TrialValue[]>> }
  | {
    readonly kind: "random";
    readonly space: Readonly<Record<string, SpaceDimension>>;
    readonly count: number;
    readonly seed: number;
  };

/** Which part of a sweep one process runs: 1-based `index` of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

const KEY = /^[a-z][a-z0-9-]*$/;

function isScalar(v: unknown): v is TrialValue {
  return typeof v === "string" || typeof v === "boolean" ||
    (typeof v === "number" && Number.isFinite(v));
}

function parseObject(text: string, source: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SyntaxError(`Cannot read ${what} ${source}: not JSON (${(cause as Error).message})`, {
      cause,
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`Cannot read ${what} ${source}: expected a JSON object of train flags`);
  }
  const keys = Object.keys(value);
  if (keys.length === 0) throw new RangeError(`Cannot read ${what} ${source}: it names no flag`);
  for (const k of keys) {
    if (!KEY.test(k)) {
      throw new RangeError(
        `Cannot read ${what} ${source}: key ${JSON.stringify(k)} is not a train flag name ` +
          `(write "hidden-size" for --hidden-size)`,
      );
    }
  }
  return value as Record<string, unknown>;
}

/** Parses a grid file: `{"lr": [0.001, 0.0003], "hidden-size": [32, 64]}`. */
export function parseGrid(
  text: string,
  source: string,
): Readonly<Record<string, readonly TrialValue[]>> {
  const grid = parseObject(text, source, "grid");
  for (const [k, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0 || !values.every(isScalar)) {
      throw new TypeError(
        `Cannot read grid ${source}: "${k}" must be a non-empty list of numbers, strings or ` +
          `booleans, received ${JSON.stringify(values)}`,
      );
    }
  }
  return grid as Record<string, TrialValue[]>;
}

/**
 * Parses a search space file: each key one of `{"choice": [...]}`, `{"uniform": [lo, hi]}`,
 * `{"loguniform": [lo, hi]}` (lo > 0) or `{"int": [lo, hi]}` (both included).
 */
export function parseSpace(
  text: string,
  source: string,
): Readonly<Record<string, SpaceDimension>> {
  const space = parseObject(text, source, "search space");
  for (const [k, dim] of Object.entries(space)) {
    const bad = (why: string) =>
      new TypeError(
        `Cannot read search space ${source}: "${k}" ${why}; expected {"choice": [...]}, ` +
          `{"uniform": [lo, hi]}, {"loguniform": [lo, hi]} or {"int": [lo, hi]}`,
      );
    if (dim === null || typeof dim !== "object" || Object.keys(dim).length !== 1) {
      throw bad(`is ${JSON.stringify(dim)}`);
    }
    const [kind, arg] = Object.entries(dim)[0];
    if (kind === "choice") {
      if (!Array.isArray(arg) || arg.length === 0 || !arg.every(isScalar)) {
        throw bad("needs a non-empty list");
      }
      continue;
    }
    if (!["uniform", "loguniform", "int"].includes(kind)) throw bad(`has unknown kind "${kind}"`);
    if (
      !Array.isArray(arg) || arg.length !== 2 || !arg.every((x) => Number.isFinite(x)) ||
      arg[0] > arg[1] || (kind === "loguniform" && arg[0] <= 0) ||
      (kind === "int" && !arg.every(Number.isInteger))
    ) {
      throw bad(`needs [lo, hi] with lo <= hi${kind === "loguniform" ? " and lo > 0" : ""}`);
    }
  }
  return space as Record<string, SpaceDimension>;
}

/** Every trial of a sweep, in a fixed order (the same on every machine). */
export function sweepTrials(definition: SweepDefinition): Trial[] {
  if (definition.kind === "grid") {
    let trials: Record<string, TrialValue>[] = [{}];
    for (const [key, values] of Object.entries(definition.grid)) {
      trials = trials.flatMap((t) => values.map((v) => ({ ...t, [key]: v })));
    }
    return trials;
  }
  const rng = new SeededRng(definition.seed);
  const out: Trial[] = [];
  for (let i = 0; i < definition.count; i++) {
    const trial: Record<string, TrialValue> = {};
    for (const [key, dim] of Object.entries(definition.space)) {
      if ("choice" in dim) trial[key] = dim.choice[rng.nextInt(dim.choice.length)];
      else if ("uniform" in dim) {
        trial[key] = round6(dim.uniform[0] + rng.next() * (dim.uniform[1] - dim.uniform[0]));
      } else if ("loguniform" in dim) {
        const [lo, hi] = dim.loguniform.map(Math.log);
        trial[key] = round6(Math.exp(lo + rng.next() * (hi - lo)));
      } else trial[key] = dim.int[0] + rng.nextInt(dim.int[1] - dim.int[0] + 1);
    }
    out.push(trial);
  }
  return out;
}

/** 6 significant digits: a readable flag value that every machine prints the same. */
function round6(x: number): number {
  return Number(x.toPrecision(6));
}

/** Parses `--shard i/n` (1 <= i <= n). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new RangeError(
      `Cannot use --shard ${JSON.stringify(text)}: expected i/n with 1 <= i <= n, e.g. 1/2 and ` +
        "2/2 for two machines",
    );
  }
  return { index, count };
}

/** The 1-based trial numbers of one shard: i, i+n, i+2n, ... */
export function shardTrialNumbers(total: number, shard: Shard): number[] {
  const out: number[] = [];
  for (let t = shard.index; t <= total; t += shard.count) out.push(t);
  return out;
}

/** A trial as `deno task train` flags. */
export function trialArgs(trial: Trial): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(trial)) {
    if (value === true) args.push(`--${key}`);
    else if (value !== false) args.push(`--${key}`, String(value));
  }
  return args;
}

/** JSON with sorted object keys, so that equal definitions hash the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${
      Object.keys(value).sort().map((k) =>
        `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value);
}

/**
 * The sweep's id: `sw-` and 12 hex digits of the SHA-256 of the experiment, the definition
 * and the base settings (model and loop, not paths: machines may keep data elsewhere).
 */
export async function sweepId(
  experiment: string,
  definition: SweepDefinition,
  baseSettings: unknown,
): Promise<string> {
  const text = canonicalJson({ experiment, definition, baseSettings });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `sw-${hex.slice(0, 12)}`;
}

/** One child run of a sweep, for the comparison table. */
export interface SweepChild {
  readonly trial: number;
  readonly runId: string;
  readonly runName: string;
  readonly status: string;
  /** The trial's settings as the run's params (snake_case names). */
  readonly params: Readonly<Record<string, string>>;
  readonly epochs: number;
  /** Best val_macro_f1 over the run's epochs, or null. */
  readonly bestValMacroF1: number | null;
  /** Latest val_cost, or null. */
  readonly valCost: number | null;
}

/** The best child: highest best val macro-F1 among finished ones; null when none has one. */
export function bestChild(children: readonly SweepChild[]): SweepChild | null {
  let best: SweepChild | null = null;
  for (const c of children) {
    if (c.status !== "FINISHED" || c.bestValMacroF1 === null) continue;
    if (best === null || c.bestValMacroF1 > best.bestValMacroF1!) best = c;
  }
  return best;
}

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * The comparison table (`sweep_results.csv`): one row per child, best first, with the
 * swept settings (`keys`, as param names) side by side.
 */
export function sweepResultsCsv(children: readonly SweepChild[], keys: readonly string[]): string {
  const rows = [...children].sort((a, b) =>
    (b.bestValMacroF1 ?? -Infinity) - (a.bestValMacroF1 ?? -Infinity) || a.trial - b.trial
  );
  const header = [
    "rank",
    "trial",
    "run_name",
    "run_id",
    "status",
    ...keys,
    "epochs",
    "best_val_macro_f1",
    "val_cost",
  ];
  const lines = rows.map((c, i) =>
    [
      String(i + 1),
      String(c.trial),
      c.runName,
      c.runId,
      c.status,
      ...keys.map((k) => c.params[k] ?? ""),
      String(c.epochs),
      c.bestValMacroF1 === null ? "" : String(c.bestValMacroF1),
      c.valCost === null ? "" : String(c.valCost),
    ].map(csvCell).join(",")
  );
  return [header.join(","), ...lines].join("\n") + "\n";
}
