/**
 * Deno edge of `--log-system-metrics`: reads `/proc/stat`, `/proc/meminfo` (else
 * `Deno.systemMemoryInfo()`), `/proc/net/dev` and
 * `Deno.memoryUsage()` every interval and queues
 * {@link systemMetrics} on the run's logger (step 0, 1, 2, ... like MLflow's monitor), so the
 * training never waits for it. Where `/proc` is missing (not Linux) the CPU and network
 * metrics are left out; memory and RSS remain.
 *
 * @module
 */
import type { RunLogger } from "../tracking/run_logger.ts";
import type { TrainHooks } from "../train/hooks.ts";
import {
  parseProcMeminfo,
  parseProcNetDev,
  parseProcStat,
  systemMetrics,
  type SystemReading,
} from "./system_metrics.ts";

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

/** One reading of the machine and this process. */
export async function readSystem(): Promise<SystemReading> {
  const stat = await readText("/proc/stat");
  const net = await readText("/proc/net/dev");
  const meminfo = await readText("/proc/meminfo");
  let memory = meminfo === null ? null : parseProcMeminfo(meminfo);
  if (memory === null) {
    try {
      const m = Deno.systemMemoryInfo();
      memory = { total: m.total, available: m.available };
    } catch {
      memory = null;
    }
  }
  return {
    cpu: stat === null ? null : parseProcStat(stat),
    memory,
    network: net === null ? null : parseProcNetDev(net),
    rssBytes: Deno.memoryUsage().rss,
  };
}

/** A running sampler. */
export interface SystemMetricsSampler {
  /** Samples taken so far. */
  readonly samples: number;
  /** Takes a last sample and stops; resolves once it is queued. */
  stop(): Promise<void>;
}

/**
 * Samples every `intervalMs` and queues the metrics on `logger`. Errors of a sample are
 * reported through `onWarning` once and sampling goes on.
 */
export async function startSystemMetrics(
  logger: RunLogger,
  options: { intervalMs: number; onWarning?: (line: string) => void },
): Promise<SystemMetricsSampler> {
  const first = await readSystem();
  let previous = first;
  let step = 0;
  let warned = false;
  let pending: Promise<void> = Promise.resolve();
  const sample = () => {
    pending = pending.then(async () => {
      const reading = await readSystem();
      logger.logMetrics(systemMetrics(reading, previous, first), step++);
      previous = reading;
    }).catch((error) => {
      if (!warned) options.onWarning?.(`system metrics: ${(error as Error).message}`);
      warned = true;
    });
  };
  const timer = setInterval(sample, options.intervalMs);
  let stopped = false;
  return {
    get samples() {
      return step;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      sample();
      await pending;
    },
  };
}

/** Hooks that stop the sampler when the training ends (subscribe before the run's end). */
export function systemMetricsHooks(sampler: SystemMetricsSampler): TrainHooks {
  return {
    async onEnd() {
      await sampler.stop();
    },
  };
}
