/** Browser side of lstm_cpu_browser_test.ts: runs the case with 1 and 2 threads. */
import * as tf from "@tensorflow/tfjs";
import { runCpuCase } from "./_cpu_browser_case.ts";

const g = globalThis as unknown as Record<string, unknown>;
try {
  await tf.setBackend("cpu");
  g.result = {
    isolated: g.crossOriginIsolated === true,
    one: await runCpuCase(1),
    two: await runCpuCase(2),
  };
} catch (e) {
  g.result = { error: String((e as Error).stack ?? e) };
}
