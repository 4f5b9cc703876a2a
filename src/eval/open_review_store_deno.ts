/**
 * Deno edge: the {@link ReviewStore} for a tracking URI, on top of the tracking module's
 * stores: an `http(s)://` URI is a server, anything else (a path or `file:`) a local file
 * store; empty means `MLFLOW_TRACKING_URI`, else `./mlruns`.
 *
 * @module
 */
import { FileStore, type MlflowCredentials, RestStore } from "../tracking/mod.ts";
import { absolutePath, denoFileSystem } from "../tracking/file_system_deno.ts";
import type { ReviewStore } from "./review_store.ts";
import { TrackingReviewStore } from "./tracking_review_store.ts";
import { RestVersionAnnotator } from "./version_annotator_rest.ts";
import { FileVersionAnnotator } from "./version_annotator_file_deno.ts";

/** Opens the store; `env` is the process environment, passed in by the CLI. */
export function openReviewStore(
  uri: string,
  env: Record<string, string | undefined>,
): ReviewStore {
  const resolved = uri || env.MLFLOW_TRACKING_URI || "./mlruns";
  if (/^https?:\/\//i.test(resolved)) {
    let credentials: MlflowCredentials | null = null;
    const headers: Record<string, string> = {};
    if (env.MLFLOW_TRACKING_USERNAME && env.MLFLOW_TRACKING_PASSWORD !== undefined) {
      credentials = {
        kind: "basic",
        username: env.MLFLOW_TRACKING_USERNAME,
        password: env.MLFLOW_TRACKING_PASSWORD,
      };
      headers.Authorization = `Basic ${
        btoa(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD}`)
      }`;
    } else if (env.MLFLOW_TRACKING_TOKEN) {
      credentials = { kind: "bearer", token: env.MLFLOW_TRACKING_TOKEN };
      headers.Authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
    }
    return new TrackingReviewStore(
      new RestStore({ uri: resolved, credentials }),
      new RestVersionAnnotator(resolved, { headers }),
    );
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(resolved) && !resolved.startsWith("file:")) {
    throw new RangeError(
      `Cannot open MLflow store "${resolved.replace(/\/\/[^@/]*@/, "//***@")}": expected ` +
        "http(s)://, file: or a folder path (for sqlite or databricks, run an mlflow server " +
        "in front of it and pass its http:// URI)",
    );
  }
  const root = absolutePath(
    resolved.startsWith("file:") ? decodeURIComponent(new URL(resolved).pathname) : resolved,
  );
  return new TrackingReviewStore(
    new FileStore(denoFileSystem(), root),
    new FileVersionAnnotator(root),
  );
}
