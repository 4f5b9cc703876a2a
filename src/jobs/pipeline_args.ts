/**
 * A PyTorch pipeline checkpoint's `args` (`vars(argparse.Namespace)`, snake_case) as the
 * job's model and loop settings: resuming from a `.pt` takes every setting the user did not
 * give as a flag from the checkpoint, so `--resume-from last.pt` alone continues the run it
 * came from.
 *
 * @module
 */
import { PIPELINE_POOLING_ARG } from "../model/torch_state_dict.ts";
import type { PyValue } from "../torch/py_value.ts";
import { snakeCase } from "../train/torch_checkpoint.ts";
import type { TrainJobConfig } from "./run_spec.ts";

/** What {@link applyPipelineArgs} returns. */
export interface PipelineArgsApplied {
  readonly job: TrainJobConfig;
  /** `name value` of each setting taken from `args`, e.g. `hidden_size 64`. */
  readonly taken: string[];
}

const POOLING_OF_ARG: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(PIPELINE_POOLING_ARG).map(([ours, arg]) => [arg, ours]),
);

function convert(key: string, now: unknown, value: PyValue): unknown {
  const fail = (expected: string): never => {
    throw new RangeError(
      `Cannot use the checkpoint's args['${snakeCase(key)}'] = ${
        typeof value === "bigint" ? value : JSON.stringify(value)
      }: expected ${expected}; pass --${snakeCase(key).replaceAll("_", "-")} to override it`,
    );
  };
  if (key === "pooling") {
    if (typeof value !== "string" || !Object.hasOwn(POOLING_OF_ARG, value)) {
      return fail(`one of ${Object.keys(POOLING_OF_ARG).join(", ")}`);
    }
    return POOLING_OF_ARG[value];
  }
  if (key === "gradClip" && value === null) return 0; // None = no clipping
  if (typeof now === "boolean") return typeof value === "boolean" ? value : fail("True or False");
  if (typeof now === "number") {
    const n = typeof value === "bigint" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isFinite(n)) return fail("a number");
    return n;
  }
  return typeof value === "string" ? value : fail("a string");
}

/**
 * The job with each model and loop setting that is not in `given` (camelCase names) taken
 * from `args` where `args` holds it (None leaves the setting as it is, except
 * `grad_clip` None = 0, no clipping). Paths, device and tracking stay the run's own.
 *
 * @throws {RangeError} for an `args` value of the wrong type, naming the key and the flag.
 */
export function applyPipelineArgs(
  job: TrainJobConfig,
  args: ReadonlyMap<string, PyValue>,
  given: ReadonlySet<string>,
): PipelineArgsApplied {
  const taken: string[] = [];
  const part = <T extends object>(settings: T): T => {
    const out = { ...settings } as Record<string, unknown>;
    for (const [key, now] of Object.entries(settings)) {
      const name = snakeCase(key);
      const value = args.get(name);
      if (given.has(key) || value === undefined || (value === null && key !== "gradClip")) continue;
      const next = convert(key, now, value);
      if (next !== now) taken.push(`${name} ${JSON.stringify(next)}`);
      out[key] = next;
    }
    return Object.freeze(out) as T;
  };
  return {
    job: Object.freeze({ model: part(job.model), loop: part(job.loop), run: job.run }),
    taken,
  };
}
