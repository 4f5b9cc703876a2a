import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  parseProcMeminfo,
  parseProcNetDev,
  parseProcStat,
  systemMetrics,
  type SystemReading,
} from "../../src/jobs/system_metrics.ts";
import { readSystem } from "../../src/jobs/system_metrics_deno.ts";

const noPsutil = await skipUnlessPython("psutil");

const STAT_1 = "cpu  100 5 50 800 20 3 2 0 7 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1\n";
// 60 busy ticks (user 40, system 15, irq 3, softirq 2... ) and 40 idle+iowait over the interval.
const STAT_2 = "cpu  140 5 65 830 30 6 4 0 9 0\ncpu0 70 2 30 415 15 2 2 0 0 0\nintr 2\n";
const NET = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 2500000   20    0    0    0     0          0         0     500000    30    0    0    0     0       0          0
`;
const MEMINFO = `MemTotal:        1000000 kB
MemFree:          200000 kB
MemAvailable:     600000 kB
Buffers:           50000 kB
Cached:           300000 kB
SwapCached:            0 kB
SReclaimable:      25000 kB
`;

Deno.test("systemMetrics() computes MLflow's system/ metrics from /proc readings", () => {
  const reading = (stat: string, rx: number, rss: number): SystemReading => ({
    cpu: parseProcStat(stat),
    memory: parseProcMeminfo(MEMINFO),
    network: { received: rx, sent: rx / 2 },
    rssBytes: rss,
  });
  const first = reading(STAT_1, 1_000_000, 5e7);
  const later = reading(STAT_2, 3_500_000, 6.25e7);
  assert.deepEqual(parseProcStat(STAT_1), { idle: 820, total: 980 });
  assert.deepEqual(parseProcNetDev(NET), { received: 2_501_000, sent: 501_000 });
  assert.deepEqual(systemMetrics(later, first, first), {
    // (total 1080 - 980 = 100 ticks, idle+iowait 860 - 820 = 40): 60% busy, as psutil counts.
    "system/cpu_utilization_percentage": 60,
    // psutil 7: used = total - available, and the percentage of that.
    "system/system_memory_usage_megabytes": 409.6,
    "system/system_memory_usage_percentage": 40,
    "system/network_receive_megabytes": 2.5,
    "system/network_transmit_megabytes": 1.25,
    "system/process_memory_rss_megabytes": 62.5,
  });
  assert.equal(parseProcStat("intr 1\n"), null);
  assert.equal(parseProcMeminfo("nothing"), null);
});

Deno.test({
  name: "system memory metrics agree with psutil's virtual_memory(), which MLflow's monitor uses",
  ignore: noPsutil,
  async fn() {
    const before = await readSystem();
    const py = await pythonJson<{ used: number; percent: number; total: number }>(
      "import json, psutil\nm = psutil.virtual_memory()\n" +
        "print(json.dumps({'used': m.used, 'percent': m.percent, 'total': m.total}))",
    );
    const after = await readSystem();
    const ours = [before, after].map((r) => systemMetrics(r, r, r));
    // Memory moves between the readings: psutil's must lie within ours, with 1% of RAM slack.
    const slackMb = py.total / 1e6 / 100;
    const mb = ours.map((m) => m["system/system_memory_usage_megabytes"]);
    assert.ok(
      py.used / 1e6 >= Math.min(...mb) - slackMb && py.used / 1e6 <= Math.max(...mb) + slackMb,
      `psutil ${py.used / 1e6} MB, ours ${mb}`,
    );
    const pct = ours.map((m) => m["system/system_memory_usage_percentage"]);
    assert.ok(py.percent >= Math.min(...pct) - 1 && py.percent <= Math.max(...pct) + 1);
  },
});
