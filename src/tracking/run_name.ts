/**
 * The team's run names, `{data_version}-l{window}-{model_tag}-run{N}`, and creating a run
 * under the next free N without a race, on the file store and on any server.
 *
 * @module
 */
import type {
  CreateRunOptions,
  MlflowRun,
  MlflowRunInfo,
  TrackingStore,
} from "./tracking_store.ts";

/** The name prefix; empty parts are left out (`l128-run1` without version and tag). */
export function runNamePrefix(dataVersion: string, windowSize: number, modelTag: string): string {
  if (!Number.isInteger(windowSize) || windowSize <= 0) {
    throw new RangeError(
      `Cannot build a run name: window size must be a positive integer, received ${windowSize}`,
    );
  }
  return [dataVersion, `l${windowSize}`, modelTag].filter((p) => p !== "").join("-");
}

function numberPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-run(\\d+)$`);
}

/** The highest N of the names `<prefix>-run<N>` among `names` (0 when none). */
export function highestRunNumber(prefix: string, names: Iterable<string>): number {
  const pattern = numberPattern(prefix);
  let highest = 0;
  for (const name of names) {
    const m = pattern.exec(name);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  return highest;
}

/**
 * `<prefix>-run<N>` with N one more than the highest existing run number with that prefix.
 *
 * @example
 * ```ts
 * nextRunName("v1-l128-lstm", ["v1-l128-lstm-run2", "v1-l128-lstm-run7", "other-run9"]);
 * // "v1-l128-lstm-run8"
 * ```
 */
export function nextRunName(prefix: string, existingNames: Iterable<string>): string {
  return `${prefix}-run${highestRunNumber(prefix, existingNames) + 1}`;
}

/** The name a run carries while it picks its number (see {@link createNamedRun}). */
export function pendingRunName(prefix: string): string {
  return `${prefix}-run?`;
}

/** Tag on every run named by {@link createNamedRun}: the prefix it claimed a number of. */
export const RUN_NAME_PREFIX_TAG = "toolkit.run_name.prefix";

/** What {@link createNamedRun} needs: a run's options, with a name prefix for its name. */
export interface NamedRunOptions extends Omit<CreateRunOptions, "runName"> {
  /** `{data_version}-l{window}-{model_tag}` (see {@link runNamePrefix}). */
  readonly prefix: string;
}

/** Clocks and limits of {@link createNamedRun} (tests shorten them). */
export interface NamingTiming {
  /** Waits (default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch (default Date.now). */
  readonly clock?: () => number;
  /** Uniform in [0, 1) for the jitter of the waits (default Math.random). */
  readonly random?: () => number;
  /** A run still picking its number after this long (since its start) has died: ignored. */
  readonly staleMs?: number;
  /** Give up (run marked FAILED, error thrown) after this long; below `staleMs`. */
  readonly deadlineMs?: number;
}

/**
 * Creates a run named `<prefix>-run<N>`, N one more than the highest number in use, unique
 * even when many processes create runs of one prefix at once, against `./mlruns` or a
 * server on any database. Neither store offers an atomic "create if the name is free", so
 * the name is claimed after the run exists, with Lamport's bakery algorithm (only reads and
 * writes of single runs, each atomic: one `runs/update` on a server, one atomic `meta.yaml`
 * replace on the file store):
 *
 * 1. The run is created with the pending name `<prefix>-run?` (it is "choosing").
 * 2. It reads every run of the prefix and renames itself `<prefix>-run<max + 1>` (after a
 *    lost tie at N: at least N + the number of runs ahead of it in that tie, so that the
 *    losers of one tie pick distinct numbers at once; any number above those seen is safe).
 * 3. It reads them again until no other run is choosing (pending), then keeps its name
 *    unless another run holds the same one and has a smaller run id (or was not named this
 *    way). A loser goes back to pending (step 2 again, which then picks a higher number).
 *
 * Why no two runs keep one name: if X and Y both picked N, each picked it in a read made
 * before the other's rename to N became visible (else it would have picked more), while
 * the other was already visible as pending (it was pending from before that read until its
 * rename). So when either makes its final read (step 3, after its own rename), the other
 * is pending (it waits) or shows N (a tie): both final reads see the tie, and the run id
 * decides the same way for both. A run that died while pending blocks the others until
 * `staleMs` after its start; names can skip a number when a run lost a tie.
 */
export async function createNamedRun(
  store: TrackingStore,
  options: NamedRunOptions,
  timing: NamingTiming = {},
): Promise<MlflowRunInfo> {
  const sleep = timing.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const clock = timing.clock ?? Date.now;
  const random = timing.random ?? Math.random;
  const staleMs = timing.staleMs ?? 120_000;
  const deadlineMs = timing.deadlineMs ?? 60_000;
  const { prefix, ...create } = options;
  const pending = pendingRunName(prefix);
  const run = await store.createRun({
    ...create,
    runName: pending,
    tags: { ...create.tags, [RUN_NAME_PREFIX_TAG]: prefix },
  });
  const me = run.runId;
  const started = clock();
  const others = async () =>
    (await store.searchRuns([run.experimentId], { runNamePrefix: `${prefix}-run` }))
      .filter((r) => r.info.runId !== me);
  const isChoosing = (r: MlflowRun): boolean =>
    r.info.runName === pending && r.info.status === "RUNNING" &&
    clock() - r.info.startTime < staleMs;
  let floor = 0;
  for (let attempt = 1;; attempt++) {
    // One more than every number in use; after a lost tie, at least the tie's number plus
    // our rank in it, so that the losers of one tie pick distinct numbers in one round (any
    // number above those seen is safe).
    const seen = await others();
    const highest = highestRunNumber(prefix, seen.map((r) => r.info.runName));
    const name = `${prefix}-run${Math.max(highest + 1, floor)}`;
    await store.updateRun(me, { runName: name });
    let lost = false;
    for (;;) {
      if (clock() - started > deadlineMs) {
        await store.updateRun(me, { status: "FAILED", endTime: clock() }).catch(() => {});
        throw new Error(
          `Cannot name run ${me} in ${store.location}: other runs of "${prefix}" kept it from ` +
            `claiming a number for ${Math.round(deadlineMs / 1000)} s; pass --mlflow-run-name ` +
            "or try again",
        );
      }
      const now = await others();
      const ahead = now.filter((r) =>
        r.info.runName === name && (r.tags[RUN_NAME_PREFIX_TAG] !== prefix || r.info.runId < me)
      );
      lost = ahead.length > 0;
      floor = highestRunNumber(prefix, [name]) + ahead.length;
      const choosing = now.some(isChoosing);
      if (lost || !choosing) break;
      await sleep(10 + 40 * random());
    }
    if (!lost) return { ...run, runName: name };
    await store.updateRun(me, { runName: pending });
    await sleep(20 * random() * attempt);
  }
}
