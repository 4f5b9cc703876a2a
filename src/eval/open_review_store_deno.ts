/**
 * Deno edge: picks the {@link ReviewStore} for a tracking URI, as MLflow does: an
 * `http(s)://` URI is a server, anything else (a path or `file://`) a local file store;
 * empty means `MLFLOW_TRACKING_URI`, else `./mlruns`.
 *
 * @module
 */
import type { ReviewStore } from "./review_store.ts";
import { RestReviewStore } from "./review_store_rest.ts";
import { FileReviewStore } from "./review_store_file_deno.ts";

/** Opens the store; `env` is the process environment, passed in by the CLI. */
export function openReviewStore(
  uri: string,
  env: Record<string, string | undefined>,
): ReviewStore {
  const resolved = uri || env.MLFLOW_TRACKING_URI || "./mlruns";
  if (/^https?:\/\//.test(resolved)) {
    const headers: Record<string, string> = {};
    if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD) {
      headers.Authorization = `Basic ${
        btoa(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD}`)
      }`;
    } else if (env.MLFLOW_TRACKING_TOKEN) {
      headers.Authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
    }
    return new RestReviewStore(resolved, { headers });
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(resolved) && !resolved.startsWith("file:")) {
    throw new RangeError(
      `Cannot open MLflow store "${resolved}": expected http(s)://, file:// or a folder path ` +
        "(databricks and sqlite stores are not supported; run an mlflow server in front of them)",
    );
  }
  return new FileReviewStore(resolved);
}
