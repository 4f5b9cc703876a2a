/**
 * The tags of a training run, one builder for the CLI and the browser: MLflow's system
 * tags (`mlflow.user`, `mlflow.source.*`), the runtime (tfjs version, backend, adapter),
 * the run's naming tags and input fingerprints. Never credentials.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RuntimeInfo } from "../runtime/backend.ts";
import { redactUri } from "../tracking/tracking_uri.ts";

/** What {@link trainingRunTags} records. */
export interface RunTagsInput {
  /** `mlflow.user`. */
  readonly user: string;
  /** `mlflow.source.name`, e.g. `cli/train.ts` or `web/app.ts`. */
  readonly sourceName: string;
  /** The backend selection's outcome (`runtime.backend`, `runtime.adapter`, ...). */
  readonly runtime?: Pick<RuntimeInfo, "backend" | "adapter" | "isFallbackAdapter">;
  /** `mlflow.source.git.commit`, when known. */
  readonly gitCommit?: string | null;
  /** `mlflow.source.git.branch`, when known. */
  readonly gitBranch?: string | null;
  /** `mlflow.source.git.repoURL` (without credentials), when known. */
  readonly gitRepoUrl?: string | null;
  /** `mlflow.parentRunId`: the run this one is a child of (a sweep's parent). */
  readonly parentRunId?: string;
  /** The user's own tags; the toolkit's tags win over them. */
  readonly userTags?: Readonly<Record<string, string>>;
  /** `data.version` (left out when empty). */
  readonly dataVersion: string;
  /** `model.tag` (left out when empty). */
  readonly modelTag: string;
  /** SHA-256 of each input file by name: tag `input.<name>.sha256`. */
  readonly inputSha256?: Readonly<Record<string, string>>;
  /** Further tags of the caller (`toolkit.version`, `runtime.deno`, `runtime.browser`, ...). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The tfjs version this code runs with. */
export function tfjsVersion(): string {
  return (tf.version as Record<string, string>)["tfjs"] ?? tf.version_core;
}

/** A training run's tags: MLflow's system tags, the runtime, then ours. */
export function trainingRunTags(input: RunTagsInput): Record<string, string> {
  const tags: Record<string, string> = {
    ...input.userTags,
    "mlflow.user": input.user,
    "mlflow.source.name": input.sourceName,
    "mlflow.source.type": "LOCAL",
    "runtime.tfjs": tfjsVersion(),
    ...input.extra,
  };
  if (input.gitCommit) tags["mlflow.source.git.commit"] = input.gitCommit;
  if (input.gitBranch) tags["mlflow.source.git.branch"] = input.gitBranch;
  if (input.gitRepoUrl) tags["mlflow.source.git.repoURL"] = redactUri(input.gitRepoUrl);
  if (input.parentRunId) tags["mlflow.parentRunId"] = input.parentRunId;
  if (input.runtime) {
    tags["runtime.backend"] = input.runtime.backend;
    tags["runtime.adapter"] = input.runtime.adapter ?? "none";
    tags["runtime.fallback_adapter"] = String(input.runtime.isFallbackAdapter);
  }
  if (input.dataVersion) tags["data.version"] = input.dataVersion;
  if (input.modelTag) tags["model.tag"] = input.modelTag;
  for (const [name, sha] of Object.entries(input.inputSha256 ?? {})) {
    tags[`input.${name}.sha256`] = sha;
  }
  return tags;
}
