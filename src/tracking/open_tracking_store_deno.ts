/**
 * Deno edge: the one way every command and the demo server turn a tracking URI into a
 * {@link TrackingStore}. The URI is resolved (value, else `MLFLOW_TRACKING_URI`, else
 * `./mlruns`) and parsed by {@link parseTrackingUri}; a server gets a `RestStore` with the
 * credentials of MLflow's environment variables, a folder a `FileStore`.
 *
 * @module
 */
import { FileStore } from "./file_store.ts";
import { denoFileSystem } from "./file_system_deno.ts";
import { RestStore } from "./rest_store.ts";
import { credentialsFromEnv, type RetryPolicy } from "./rest_transport.ts";
import { parseTrackingUri, resolveTrackingUri } from "./tracking_uri.ts";

/** Options of {@link openTrackingStore}. */
export interface OpenTrackingStoreOptions {
  /**
   * For commands that only read (run lists, promotion and evaluation lookups): a folder
   * that does not exist is an error naming it, instead of a new, empty store.
   */
  readonly readOnly?: boolean;
  /** `fetch` for a server (tests inject one). */
  readonly fetch?: typeof fetch;
  /** Retry policy for a server (tests shorten it). */
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * Opens the store `uri` names; `uri` "" means `MLFLOW_TRACKING_URI`, else `./mlruns`.
 * `env` is the process environment, passed in by the caller. Throws RangeError for a URI
 * form MLflow's rules do not allow here (see {@link parseTrackingUri}).
 */
export async function openTrackingStore(
  uri: string,
  env: Readonly<Record<string, string | undefined>>,
  options: OpenTrackingStoreOptions = {},
): Promise<FileStore | RestStore> {
  const resolved = resolveTrackingUri(uri, env);
  const location = parseTrackingUri(resolved, Deno.cwd());
  if (location.kind === "server") {
    return new RestStore({
      uri: location.url,
      credentials: credentialsFromEnv(env),
      fetch: options.fetch,
      retry: options.retry,
    });
  }
  if (options.readOnly) {
    let isDirectory = false;
    try {
      isDirectory = (await Deno.stat(location.path)).isDirectory;
    } catch (cause) {
      if (!(cause instanceof Deno.errors.NotFound)) throw cause;
      throw new RangeError(
        `Cannot read the MLflow store at ${location.path}: the folder does not exist ` +
          `(tracking URI "${resolved}"); nothing was logged there yet, or the URI names another ` +
          "folder",
        { cause },
      );
    }
    if (!isDirectory) {
      throw new RangeError(
        `Cannot read the MLflow store at ${location.path}: it is a file, not an mlruns folder ` +
          `(tracking URI "${resolved}")`,
      );
    }
  }
  return new FileStore(denoFileSystem(), location.path);
}
