/**
 * The server's log-batch limits and the split of one batch into calls within them.
 *
 * @module
 */
import { encodeMlflowJson } from "./rest_transport.ts";
import type { MlflowBatch, MlflowMetric } from "./tracking_store.ts";

/** The server's log-batch limits. */
export const LOG_BATCH_LIMITS = Object.freeze({
  metrics: 1000,
  params: 100,
  tags: 100,
  items: 1000,
  bytes: 1_000_000,
});

/** Splits a batch into log-batch calls within `LOG_BATCH_LIMITS`. */
export function splitLogBatch(batch: MlflowBatch): MlflowBatch[] {
  type Item =
    | { kind: "params"; key: string; value: string }
    | { kind: "tags"; key: string; value: string }
    | { kind: "metrics"; metric: MlflowMetric };
  const items: Item[] = [
    ...Object.entries(batch.params ?? {}).map(([key, value]) => ({
      kind: "params" as const,
      key,
      value,
    })),
    ...Object.entries(batch.tags ?? {}).map(([key, value]) => ({
      kind: "tags" as const,
      key,
      value,
    })),
    ...(batch.metrics ?? []).map((metric) => ({ kind: "metrics" as const, metric })),
  ];
  const out: MlflowBatch[] = [];
  let current = {
    metrics: [] as MlflowMetric[],
    params: {} as Record<string, string>,
    tags: {} as Record<string, string>,
  };
  let counts = { metrics: 0, params: 0, tags: 0 };
  let bytes = 200; // envelope: run_id and the three keys
  const flush = () => {
    if (counts.metrics + counts.params + counts.tags === 0) return;
    const b: MlflowBatch = {};
    if (counts.metrics > 0) b.metrics = current.metrics;
    if (counts.params > 0) b.params = current.params;
    if (counts.tags > 0) b.tags = current.tags;
    out.push(b);
    current = { metrics: [], params: {}, tags: {} };
    counts = { metrics: 0, params: 0, tags: 0 };
    bytes = 200;
  };
  for (const item of items) {
    const size = item.kind === "metrics"
      ? encodeMlflowJson(item.metric).length + 1
      : encodeMlflowJson({ key: item.key, value: item.value }).length + 1;
    if (
      counts[item.kind] + 1 > LOG_BATCH_LIMITS[item.kind] ||
      counts.metrics + counts.params + counts.tags + 1 > LOG_BATCH_LIMITS.items ||
      bytes + size > LOG_BATCH_LIMITS.bytes
    ) flush();
    counts[item.kind]++;
    bytes += size;
    if (item.kind === "metrics") current.metrics.push(item.metric);
    else current[item.kind][item.key] = item.value;
  }
  flush();
  return out;
}
