/**
 * `RunLogger`: logs one run to a `TrackingStore` without ever blocking its caller: every
 * call only enqueues, a background drain sends batches, and what cannot be sent is spooled
 * and re-sent when the server answers. It knows MLflow, not training: `src/jobs/` connects
 * the training loop's hooks to it.
 *
 * @module
 */
import type { LoggedModelRecord } from "./logged_model.ts";
import { memorySpool, replaySpool, type SpoolRecord, type SpoolSink } from "./spool.ts";
import type { MlflowDatasetInput, TrackingStore } from "./tracking_store.ts";

/** Options of `RunLogger`. */
export interface RunLoggerOptions {
  store: TrackingStore;
  runId: string;
  /** Where unsent records wait (memory by default; `denoSpool()` on disk). */
  spool?: SpoolSink;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
  /** Waits (default setTimeout); used between the end-of-run tries. */
  sleep?: (ms: number) => Promise<void>;
  /** Files uploaded when the run ends (metrics.csv, feature_stats.json, ...). */
  finalArtifacts?: () => Promise<Record<string, Uint8Array>>;
  /** How long `onEnd` keeps retrying a down server before leaving the spool (default 60 s). */
  endTimeoutMs?: number;
  /** Called with one line when sending fails or data is left in the spool. */
  onWarning?: (message: string) => void;
}

/** What the run's end achieved. */
export interface RunLoggerSummary {
  /** Records sent to the store over the run. */
  sent: number;
  /** Records left in the spool (0 when everything reached the store). */
  spooled: number;
  /** Times a send failed and records went to the spool. */
  failures: number;
  /** Total time the logging calls themselves took (enqueueing), in ms. */
  hookMs: number;
}

/**
 * Logs one run: metrics, artifacts, then its end status.
 *
 * @example
 * ```ts ignore
 * const logger = new RunLogger({ store, runId: run.runId });
 * logger.logMetrics({ val_loss: 0.4 }, 1);
 * await logger.end("FINISHED");
 * ```
 */
export class RunLogger {
  readonly runId: string;
  readonly #store: TrackingStore;
  readonly #spool: SpoolSink;
  readonly #clock: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #options: RunLoggerOptions;
  #pending: SpoolRecord[] = [];
  /** Records being sent right now (not in the spool): spooled again by {@link abandon}. */
  #inFlight: SpoolRecord[] = [];
  #drain: Promise<void> | null = null;
  #offline = false;
  #spooled = 0;
  readonly #summary: RunLoggerSummary = { sent: 0, spooled: 0, failures: 0, hookMs: 0 };
  #ended = false;

  /** A logger for an existing run. */
  constructor(options: RunLoggerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.runId = options.runId;
    this.#spool = options.spool ?? memorySpool();
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Queues metrics at one step (in the given key order) and starts a background send. */
  logMetrics(values: Readonly<Record<string, number>>, step: number): void {
    this.#timed(() => {
      const timestamp = this.#clock();
      this.#enqueue({
        kind: "batch",
        batch: {
          metrics: Object.entries(values).map(([key, value]) => ({ key, value, timestamp, step })),
        },
      });
    });
  }

  /** Queues run tags. */
  logTags(tags: Readonly<Record<string, string>>): void {
    this.#timed(() => this.#enqueue({ kind: "batch", batch: { tags } }));
  }

  /** Queues data sets as the run's inputs (`log-inputs`). */
  logInputs(datasets: readonly MlflowDatasetInput[]): void {
    this.#timed(() => this.#enqueue({ kind: "inputs", datasets }));
  }

  /** Queues a logged model of the run (created, uploaded, linked and finalized in order). */
  logModel(model: LoggedModelRecord): void {
    this.#timed(() => this.#enqueue({ kind: "model", model }));
  }

  /** Queues an artifact upload; a queued upload of the same path is replaced. */
  logArtifact(path: string, bytes: Uint8Array): void {
    this.#timed(() => this.#queueArtifact(path, bytes));
  }

  #queueArtifact(path: string, bytes: Uint8Array): void {
    this.#pending = this.#pending.filter((r) => !(r.kind === "artifact" && r.path === path));
    this.#enqueue({ kind: "artifact", path, bytes });
  }

  /** Runs `fn` and adds its time to the summary's `hookMs`. */
  #timed(fn: () => void): void {
    const t0 = performance.now();
    fn();
    this.#summary.hookMs += performance.now() - t0;
  }

  #enqueue(record: SpoolRecord): void {
    if (this.#ended) {
      throw new Error(`Cannot log to run ${this.runId}: the run has ended`);
    }
    this.#pending.push(record);
    this.#kick();
  }

  #kick(): void {
    if (this.#drain !== null) return;
    this.#drain = this.#drainLoop().catch((error) => {
      // Only the spool itself failing lands here (disk full, ...): say so, keep training.
      this.#offline = true;
      this.#summary.failures++;
      this.#options.onWarning?.(
        `MLflow: cannot spool unsent records of run ${this.runId}: ${(error as Error).message}`,
      );
    }).finally(() => {
      this.#drain = null;
      // Records that arrived while the last send was failing wait for the next kick.
      if (this.#pending.length > 0 && !this.#offline) this.#kick();
    });
  }

  async #drainLoop(): Promise<void> {
    while (this.#pending.length > 0 || this.#spooled > 0) {
      const batch = this.#pending;
      this.#pending = [];
      if (this.#offline || this.#spooled > 0) {
        // Keep order: everything new goes behind what is already spooled, then replay.
        if (batch.length > 0) {
          try {
            await this.#spool.append(batch);
          } catch (error) {
            this.#pending = [...batch, ...this.#pending]; // keep them in memory at least
            throw error;
          }
          this.#spooled += batch.length;
        }
        try {
          const before = this.#spooled;
          const sent = await replaySpool(this.#store, this.runId, this.#spool);
          this.#summary.sent += sent;
          this.#spooled = 0;
          this.#offline = false;
          if (sent > 0 || before > 0) {
            this.#options.onWarning?.(`MLflow: server back, sent ${before} spooled records`);
          }
        } catch (error) {
          this.#spooled = (await this.#spool.load()).length;
          this.#offline = true;
          this.#summary.failures++;
          this.#options.onWarning?.(
            `MLflow: still unreachable, ${this.#spooled} records spooled (${
              (error as Error).message
            })`,
          );
          return;
        }
        continue;
      }
      this.#inFlight = batch;
      try {
        await replaySpool(this.#store, this.runId, {
          load: () => Promise.resolve(batch),
          append: () => Promise.resolve(),
          replace: async (rest) => {
            if (rest.length === 0) return;
            try {
              await this.#spool.append(rest);
              this.#spooled += rest.length;
            } catch (error) {
              this.#pending = [...rest, ...this.#pending]; // keep them in memory at least
              throw error;
            }
          },
        });
        this.#summary.sent += batch.length;
        this.#inFlight = [];
      } catch (error) {
        this.#inFlight = [];
        this.#offline = true;
        this.#summary.failures++;
        this.#options.onWarning?.(
          `MLflow: cannot send (${(error as Error).message}); ${this.#spooled} records spooled, ` +
            `retrying on the next epoch`,
        );
        return;
      }
    }
  }

  /** Waits for the background send; returns true when nothing is pending or spooled. */
  async flush(): Promise<boolean> {
    while (this.#drain !== null) await this.#drain;
    if (this.#pending.length > 0 || this.#spooled > 0) {
      this.#offline = false; // one more try, now
      this.#kick();
      while (this.#drain !== null) await this.#drain;
    }
    return this.#pending.length === 0 && this.#spooled === 0;
  }

  /**
   * Ends the run: queues the final artifacts and the status with the end time, then waits
   * for everything to be sent, retrying a down server until `endTimeoutMs`.
   */
  async end(status: "FINISHED" | "FAILED" | "KILLED"): Promise<RunLoggerSummary> {
    if (this.#ended) return this.summary();
    try {
      const files = await this.#options.finalArtifacts?.() ?? {};
      for (const [path, bytes] of Object.entries(files)) this.#queueArtifact(path, bytes);
    } catch (error) {
      this.#options.onWarning?.(
        `MLflow: cannot collect final artifacts: ${(error as Error).message}`,
      );
    }
    this.#enqueue({ kind: "update", status, endTime: this.#clock() });
    this.#ended = true;
    const deadline = this.#clock() + (this.#options.endTimeoutMs ?? 60_000);
    let wait = 500;
    while (!(await this.flush()) && this.#clock() < deadline) {
      await this.#sleep(Math.min(wait, Math.max(0, deadline - this.#clock())));
      wait = Math.min(wait * 2, 10_000);
    }
    if (this.#spooled > 0) {
      this.#options.onWarning?.(
        `MLflow: ${this.#spooled} records of run ${this.runId} are left in the spool; ` +
          `upload them later with deno task mlflow-sync --spool <dir> --to <tracking uri>`,
      );
    }
    return this.summary();
  }

  /**
   * Gives up on sending, for a process about to exit at once (a second Ctrl-C): what is
   * queued or being sent, and the end status, go to the spool without any network call,
   * for `mlflow-sync --spool` later. A record that was being sent may reach the store
   * twice; a server drops an exact duplicate metric value. Returns the records spooled
   * by this call.
   */
  async abandon(status: "FINISHED" | "FAILED" | "KILLED"): Promise<number> {
    const records = [...this.#inFlight, ...this.#pending];
    if (!this.#ended) records.push({ kind: "update", status, endTime: this.#clock() });
    this.#ended = true;
    this.#pending = [];
    this.#inFlight = [];
    this.#offline = true;
    if (records.length > 0) await this.#spool.append(records);
    this.#spooled += records.length;
    return records.length;
  }

  /** Counters so far. */
  summary(): RunLoggerSummary {
    return { ...this.#summary, spooled: this.#spooled + this.#pending.length };
  }
}
