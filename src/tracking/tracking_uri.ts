/**
 * The one parser for MLflow tracking URIs, with MLflow's rules: `http(s)://` is a tracking
 * server; `file:///abs` an absolute folder, `file:./x` a folder relative to the current
 * directory; a bare path is a folder. Every other form (`databricks`, `sqlite:///...`,
 * `host:port`, a bare host name) is refused with the accepted forms, and so is a URI that
 * carries `user:password@` (credentials travel in MLflow's environment variables only).
 *
 * Pure: the current directory is passed in.
 *
 * @module
 */

/** Where a tracking URI points: a local `mlruns` folder or a tracking server. */
export type TrackingLocation =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "server"; readonly url: string };

/** The default when neither a flag nor `MLFLOW_TRACKING_URI` names a store. */
export const DEFAULT_TRACKING_URI = "./mlruns";

const ACCEPTED = "expected http(s)://host[:port] (a tracking server), file:///absolute/folder, " +
  "file:./relative/folder or a folder path such as ./mlruns";
const SERVER_HINT = "; for a sqlite, PostgreSQL or Databricks store, run `mlflow server " +
  "--backend-store-uri <it>` and pass the server's http:// URI";

/** Removes any `user:password@` from a URI, for messages. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1");
}

function refuse(uri: string, reason: string): RangeError {
  return new RangeError(`Cannot use tracking URI ${JSON.stringify(redactUri(uri))}: ${reason}`);
}

/**
 * The URI to use: the flag's value, else `MLFLOW_TRACKING_URI`, else `./mlruns`.
 * `env` is the process environment, passed in by the caller.
 */
export function resolveTrackingUri(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return value || env.MLFLOW_TRACKING_URI || DEFAULT_TRACKING_URI;
}

/** Makes `path` absolute against `cwd` and normalises `.`/`..` segments, with `/` separators. */
export function resolvePath(path: string, cwd: string): string {
  const p = path.replaceAll("\\", "/");
  const abs = p.startsWith("/") || /^[A-Za-z]:\//.test(p) ? p : `${cwd.replaceAll("\\", "/")}/${p}`;
  const parts: string[] = [];
  for (const part of abs.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return /^[A-Za-z]:$/.test(parts[0] ?? "") ? parts.join("/") : `/${parts.join("/")}`;
}

/**
 * A tracking server's base URL (`http(s)://host[:port][/prefix]`, no trailing `/`).
 * Throws RangeError for any other form or for a URI with credentials.
 */
export function trackingServerUrl(uri: string): string {
  const location = parseTrackingUri(uri, "/");
  if (location.kind !== "server") {
    throw refuse(
      uri,
      "it names a local folder, not a tracking server; expected http(s)://host[:port]",
    );
  }
  return location.url;
}

/**
 * Parses a tracking URI. `cwd` makes relative folders absolute.
 *
 * @example
 * ```ts
 * parseTrackingUri("http://127.0.0.1:5000/", "/w"); // { kind: "server", url: "http://127.0.0.1:5000" }
 * parseTrackingUri("file:./mlruns", "/w"); // { kind: "file", path: "/w/mlruns" }
 * ```
 */
export function parseTrackingUri(uri: string, cwd: string): TrackingLocation {
  if (uri.trim() === "") throw refuse(uri, `it is empty; ${ACCEPTED}`);
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) {
    throw refuse(
      uri,
      "credentials in the URI are refused (they would end up in logs and params); set " +
        "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead",
    );
  }
  if (/^https?:/i.test(uri)) return { kind: "server", url: serverUrl(uri) };
  if (/^file:/i.test(uri)) return { kind: "file", path: resolvePath(fileUriPath(uri), cwd) };
  if (/^[A-Za-z]:[\\/]/.test(uri)) return { kind: "file", path: resolvePath(uri, cwd) };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri);
  if (/^[^/\\]+:\d+(\/.*)?$/.test(uri)) {
    throw refuse(uri, `it looks like host:port without a scheme; pass http://${uri}`);
  }
  if (scheme) {
    throw refuse(uri, `the scheme ${scheme[1]}: is not supported; ${ACCEPTED}${SERVER_HINT}`);
  }
  if (/^(databricks|databricks-uc|uc)$/i.test(uri)) {
    throw refuse(uri, `Databricks is not supported; ${ACCEPTED}${SERVER_HINT}`);
  }
  if (/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(uri)) {
    throw refuse(
      uri,
      `it looks like a host name; for a tracking server pass http://${uri} (or https://), ` +
        `for a folder of that name pass ./${uri}`,
    );
  }
  return { kind: "file", path: resolvePath(uri, cwd) };
}

function serverUrl(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw new RangeError(
      `Cannot use tracking URI ${JSON.stringify(redactUri(uri))}: not a valid URL; ${ACCEPTED}`,
      { cause },
    );
  }
  if (url.hostname === "") throw refuse(uri, `it has no host; ${ACCEPTED}`);
  if (url.search !== "" || url.hash !== "") {
    throw refuse(uri, "a tracking server URI takes no ?query or #fragment");
  }
  return url.toString().replace(/\/+$/, "");
}

/** The path of a `file:` URI: `file:///abs`, `file://localhost/abs`, `file:/abs`, `file:rel`. */
function fileUriPath(uri: string): string {
  let rest = uri.slice("file:".length);
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    const host = rest.slice(2, slash < 0 ? rest.length : slash);
    if (host !== "" && host.toLowerCase() !== "localhost") {
      throw refuse(uri, `file: URIs on another host (${host}) are not supported; ${ACCEPTED}`);
    }
    rest = slash < 0 ? "/" : rest.slice(slash);
    // file:///C:/x names a Windows drive.
    if (/^\/[A-Za-z]:\//.test(rest)) rest = rest.slice(1);
  }
  if (rest === "") throw refuse(uri, `it names no folder; ${ACCEPTED}`);
  try {
    return decodeURIComponent(rest);
  } catch (cause) {
    throw new RangeError(
      `Cannot use tracking URI ${JSON.stringify(uri)}: bad %-escape in the path; ${ACCEPTED}`,
      { cause },
    );
  }
}
