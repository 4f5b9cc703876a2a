/**
 * System metrics as MLflow's `log_system_metrics=True` names them (`system/...`), computed
 * from plain readings: `/proc/stat`'s CPU times, `/proc/meminfo`'s counters as psutil reads
 * them, network bytes from `/proc/net/dev`, and the process's resident set. The
 * Deno edge (`system_metrics_deno.ts`) takes the readings and logs the metrics.
 *
 * @module
 */

/** Aggregate CPU times of `/proc/stat`'s first line, in clock ticks. */
export interface CpuTimes {
  readonly idle: number;
  readonly total: number;
}

/** One reading of the machine and the process. */
export interface SystemReading {
  readonly cpu: CpuTimes | null;
  /** Bytes; null where unknown. */
  readonly memory: { readonly total: number; readonly available: number } | null;
  /** Bytes received and sent over every interface since boot; null where unknown. */
  readonly network: { readonly received: number; readonly sent: number } | null;
  /** The process's resident set size in bytes. */
  readonly rssBytes: number;
}

/** Parses the aggregate `cpu` line of `/proc/stat`; null when it is missing. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (line === undefined) return null;
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  if (t.length < 4 || t.some((v) => !Number.isFinite(v))) return null;
  // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
  const busyAndIdle = t.slice(0, 8);
  return {
    idle: t[3] + (t[4] ?? 0),
    total: busyAndIdle.reduce((a, b) => a + b, 0),
  };
}

/** MemTotal and MemAvailable of `/proc/meminfo` in bytes; null when MemTotal is missing. */
export function parseProcMeminfo(text: string): SystemReading["memory"] {
  const kb: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m !== null) kb[m[1]] = Number(m[2]);
  }
  if (kb.MemTotal === undefined) return null;
  // Kernels before 3.14 lack MemAvailable: psutil then falls back to MemFree as well.
  return { total: kb.MemTotal * 1024, available: (kb.MemAvailable ?? kb.MemFree ?? 0) * 1024 };
}

/** Sums received and sent bytes over the interfaces of `/proc/net/dev`. */
export function parseProcNetDev(text: string): { received: number; sent: number } | null {
  let received = 0, sent = 0, seen = 0;
  for (const line of text.split("\n")) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (m === null) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    if (f.length < 9) continue;
    received += f[0];
    sent += f[8];
    seen++;
  }
  return seen === 0 ? null : { received, sent };
}

/**
 * The metrics of one sample: CPU utilisation over the time since `previous`, memory as
 * psutil's `virtual_memory()` (7.x) reports it (used = total - available, percent the same
 * share), network traffic since `first` (MB = 10^6 bytes, as MLflow logs them) and the
 * process's RSS.
 */
export function systemMetrics(
  reading: SystemReading,
  previous: SystemReading,
  first: SystemReading,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (reading.cpu !== null && previous.cpu !== null) {
    const total = reading.cpu.total - previous.cpu.total;
    const idle = reading.cpu.idle - previous.cpu.idle;
    if (total > 0) out["system/cpu_utilization_percentage"] = round(100 * (1 - idle / total));
  }
  if (reading.memory !== null && reading.memory.total > 0) {
    const m = reading.memory;
    const used = Math.max(0, m.total - m.available);
    out["system/system_memory_usage_megabytes"] = round(used / 1e6);
    out["system/system_memory_usage_percentage"] = round(
      100 * (m.total - m.available) / m.total,
    );
  }
  if (reading.network !== null && first.network !== null) {
    out["system/network_receive_megabytes"] = round(
      (reading.network.received - first.network.received) / 1e6,
    );
    out["system/network_transmit_megabytes"] = round(
      (reading.network.sent - first.network.sent) / 1e6,
    );
  }
  out["system/process_memory_rss_megabytes"] = round(reading.rssBytes / 1e6);
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
