import type { MlflowRun, TrackingStore } from "../tracking/mod.ts";
import type {
  ReviewArtifact,
  ReviewMetricPoint,
  ReviewModelVersion,
  ReviewRun,
  ReviewStore,
} from "./review_store.ts";

/**
 * Writes what {@link TrackingStore} has no call for: a model version's tags and description
 * (who/when/why of a promotion). One implementation per store kind.
 */
export interface ModelVersionAnnotator {
  annotate(
    model: string,
    version: string,
    tags: Record<string, string>,
    description: string,
  ): Promise<void>;
}

function toReviewRun(r: MlflowRun): ReviewRun {
  return {
    runId: r.info.runId,
    runName: r.info.runName,
    experimentId: r.info.experimentId,
    status: r.info.status,
    startTime: r.info.startTime,
    endTime: r.info.endTime,
    artifactUri: r.info.artifactUri,
    params: r.params,
    tags: r.tags,
    metrics: r.metrics,
  };
}

/**
 * {@link ReviewStore} on top of the tracking engineer's {@link TrackingStore} (file store or
 * REST, with its retries and credentials), plus an annotator for version tags.
 */
export class TrackingReviewStore implements ReviewStore {
  readonly location: string;
  #store: TrackingStore;
  #annotator: ModelVersionAnnotator;

  /** Wraps `store`; `annotator` writes version tags and descriptions. */
  constructor(store: TrackingStore, annotator: ModelVersionAnnotator) {
    this.#store = store;
    this.#annotator = annotator;
    this.location = store.location;
  }

  async experimentId(name: string): Promise<string | null> {
    const e = await this.#store.getExperimentByName(name);
    return e === null || e.lifecycleStage !== "active" ? null : e.experimentId;
  }

  async searchRuns(experimentId: string): Promise<ReviewRun[]> {
    return (await this.#store.searchRuns([experimentId])).map(toReviewRun);
  }

  async getRun(runId: string): Promise<ReviewRun> {
    return toReviewRun(await this.#store.getRun(runId));
  }

  async metricHistory(runId: string, key: string): Promise<ReviewMetricPoint[]> {
    return (await this.#store.getMetricHistory(runId, key)).map((m) => ({
      step: m.step,
      value: m.value,
      timestamp: m.timestamp,
    }));
  }

  async listArtifacts(runId: string, path: string): Promise<ReviewArtifact[]> {
    return (await this.#store.listArtifacts(runId, path)).map((a) => ({
      path: a.path,
      isDir: a.isDir,
    }));
  }

  readArtifact(runId: string, path: string): Promise<Uint8Array> {
    return this.#store.downloadArtifact(runId, path);
  }

  writeArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    return this.#store.uploadArtifact(runId, path, bytes);
  }

  logMetrics(
    runId: string,
    metrics: Record<string, number>,
    step: number,
    timestamp: number,
  ): Promise<void> {
    return this.#store.logBatch(runId, {
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp, step })),
    });
  }

  setRunTag(runId: string, key: string, value: string): Promise<void> {
    return this.#store.logBatch(runId, { tags: { [key]: value } });
  }

  async modelVersionByAlias(model: string, alias: string): Promise<ReviewModelVersion | null> {
    const v = await this.#store.getModelVersionByAlias(model, alias);
    return v === null ? null : { version: v.version, runId: v.runId, source: v.source };
  }

  async createModelVersion(
    model: string,
    v: { source: string; runId: string; tags: Record<string, string>; description: string },
  ): Promise<string> {
    await this.#store.createRegisteredModel(model);
    const created = await this.#store.createModelVersion(model, v.source, v.runId);
    await this.#annotator.annotate(model, created.version, v.tags, v.description);
    return created.version;
  }

  setModelAlias(model: string, alias: string, version: string): Promise<void> {
    return this.#store.setRegisteredModelAlias(model, alias, version);
  }
}
