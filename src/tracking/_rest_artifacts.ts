/**
 * Artifacts through the tracking server's `mlflow-artifacts` proxy
 * (`/api/2.0/mlflow-artifacts/artifacts/<root>/<path>`): the proxy root of an artifact
 * location, and uploading or downloading one file under it, for runs and logged models.
 *
 * @module
 */
import { MlflowRequestError } from "./mlflow_request_error.ts";
import type { RestTransport } from "./rest_transport.ts";

/**
 * The proxy path of an `mlflow-artifacts:` artifact location (`<exp>/<run>/artifacts`,
 * `<exp>/models/<id>/artifacts`); any other location cannot be written through the server.
 */
export function proxyPath(uri: string, action: string, owner: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri);
  if (m === null) {
    throw new MlflowRequestError(
      `Cannot ${action}: ${owner} stores artifacts at "${uri}", which this client cannot ` +
        `write; start the server with --serve-artifacts (the default) and --artifacts-destination ` +
        `so runs get an mlflow-artifacts:/ URI`,
      {
        status: 0,
        errorCode: "UNSUPPORTED_ARTIFACT_URI",
        endpoint: "PUT /api/2.0/mlflow-artifacts/artifacts",
      },
    );
  }
  return m[1].replace(/\/+$/, "");
}

/** Uploads `bytes` through the server's artifact proxy to `<root>/<path>`. */
export async function putArtifact(
  http: RestTransport,
  root: string,
  path: string,
  bytes: Uint8Array,
  action: string,
): Promise<void> {
  await http.send(
    "PUT",
    `/api/2.0/mlflow-artifacts/artifacts/${root}/${encodePath(path)}`,
    bytes as Uint8Array<ArrayBuffer>,
    "application/octet-stream",
    action,
  ).then((r) => r.body?.cancel());
}

/** Downloads `<root>/<path>` through the server's artifact proxy. */
export async function getArtifact(
  http: RestTransport,
  root: string,
  path: string,
  action: string,
): Promise<Uint8Array> {
  const response = await http.send(
    "GET",
    `/api/2.0/mlflow-artifacts/artifacts/${root}/${encodePath(path)}`,
    null,
    null,
    action,
  );
  return new Uint8Array(await response.arrayBuffer());
}

function encodePath(path: string): string {
  const clean = path.replaceAll("\\", "/").replace(/^\/+|\/+$/g, "");
  if (clean.split("/").some((s) => s === ".." || s === "." || s === "")) {
    throw new TypeError(
      `Cannot use artifact path "${path}": empty, "." and ".." segments are not allowed`,
    );
  }
  return clean.split("/").map(encodeURIComponent).join("/");
}
