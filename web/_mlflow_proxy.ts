/**
 * The demo server's `/mlflow/...` proxy: it acts with the server's MLflow credentials, so it
 * forwards only what the page needs, and only for the page.
 *
 * - Every request carries the server's secret token (header `x-demo-token`), else 403.
 * - Same-origin only (`Origin` and `Sec-Fetch-Site`), else 403.
 * - An allow-list by method and path: experiments get-by-name/create, runs search/create/
 *   update/log-batch, artifact PUT. Runs may only be written (update, log-batch, artifacts)
 *   when the page created them through this proxy; runs are only created or searched in
 *   experiments the page opened through it. Everything else is 403.
 * - Bodies have a size limit (413): JSON bodies are read up to `maxJsonBytes` (MLflow's own
 *   log-batch limit is 1 MB) to check the ids above; artifact bodies need a Content-Length
 *   and are streamed to the server, counted on the way, never held whole.
 *
 * No `Deno.*` here: a `Request` in, a `Response` out, `fetch` injected.
 *
 * @module
 */

/** The request header that carries the server's secret token. */
export const DEMO_TOKEN_HEADER = "x-demo-token";

/** Options of {@linkcode createMlflowProxy}. */
export interface MlflowProxyOptions {
  /** The tracking server, without credentials (`http(s)://host:port[/prefix]`). */
  readonly target: URL;
  /** `Authorization` header value added to forwarded requests (never sent to the page). */
  readonly authorization?: string;
  /** The secret every request must carry in `x-demo-token`. */
  readonly token: string;
  /** Largest JSON body in bytes (default 2 MiB). */
  readonly maxJsonBytes?: number;
  /** Largest artifact upload in bytes (default 256 MiB). */
  readonly maxUploadBytes?: number;
  /** Most runs (and experiments) remembered as the page's own (default 1000; oldest go). */
  readonly maxTracked?: number;
  /** `fetch` to the tracking server (the global one by default). */
  readonly fetch?: typeof fetch;
  /** One line per failed forward; default silent. */
  readonly log?: (line: string) => void;
}

/** Handles one `/mlflow/...` request; `pageOrigin` is the demo server's own origin. */
export type MlflowProxy = (request: Request, pageOrigin: string) => Promise<Response>;

/** Default largest JSON body: twice MLflow's 1 MB log-batch limit. */
export const DEFAULT_MAX_JSON_BYTES = 2 * 1024 * 1024;
/** Default largest artifact upload. */
export const DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

const API = "/mlflow/api/2.0/mlflow/";
const ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts/";

/** Response headers copied back to the page. */
const FORWARDED_RESPONSE_HEADERS = ["content-type", "retry-after"];

/** True when `given` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** A fresh 256-bit secret, base64url. */
export function newDemoToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function errorJson(status: number, errorCode: string, message: string): Response {
  return new Response(JSON.stringify({ error_code: errorCode, message }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function refuse(message: string): Response {
  return errorJson(403, "PERMISSION_DENIED", message);
}

/** A set of strings that forgets its oldest entries beyond `max` (memory stays bounded). */
class BoundedSet {
  readonly #items = new Set<string>();
  constructor(readonly max: number) {}
  add(key: string): void {
    this.#items.delete(key);
    this.#items.add(key);
    while (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value!);
  }
  has(key: string): boolean {
    return this.#items.has(key);
  }
}

/** Reads a body up to `limit` bytes; null when it is larger (the rest is not read). */
async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/**
 * The artifact path of a PUT (after `.../mlflow-artifacts/artifacts/`) as clean segments, or
 * null when a segment is empty, `.`, `..`, or hides a separator once decoded.
 */
function artifactSegments(rest: string): string[] | null {
  const out: string[] = [];
  for (const raw of rest.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (
      segment === "" || segment === "." || segment === ".." || /[/\\\0]/.test(segment)
    ) return null;
    out.push(segment);
  }
  return out;
}

/** `mlflow-artifacts:/<exp>/<run>/artifacts` -> `<exp>/<run>/artifacts`; null otherwise. */
function proxiedArtifactRoot(artifactUri: unknown): string | null {
  if (typeof artifactUri !== "string") return null;
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
  if (m === null) return null;
  const segments = artifactSegments(m[1].replace(/\/+$/, ""));
  return segments === null ? null : segments.join("/");
}

type Json = Record<string, unknown>;

/** What one allowed endpoint needs: its body kind and the checks on the page's ids. */
interface Route {
  readonly method: string;
  /** The path after `/mlflow/api/2.0/mlflow/`. */
  readonly api: string;
  /** Query parameters forwarded (GET); the rest are dropped. */
  readonly query?: readonly string[];
  /** Refusal message when the JSON body names something not the page's; null = allowed. */
  readonly check?: (body: Json) => string | null;
  /** Remembers ids from the server's answer. */
  readonly record?: (answer: Json) => void;
}

/**
 * Creates the proxy. Its state (the page's experiments and runs) lives as long as the demo
 * server: a restarted server forgets runs created before.
 */
export function createMlflowProxy(options: MlflowProxyOptions): MlflowProxy {
  const maxJson = options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
  const maxUpload = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const upstreamFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const log = options.log ?? (() => {});
  const base = options.target.toString().replace(/\/+$/, "");
  const experiments = new BoundedSet(options.maxTracked ?? 1000);
  const runs = new BoundedSet(options.maxTracked ?? 1000);
  /** Artifact roots (`<exp>/<run>/artifacts`) of the page's runs. */
  const artifactRoots = new BoundedSet(options.maxTracked ?? 1000);

  const ownRun = (field: string) => (body: Json): string | null => {
    const ids = [body.run_id, body.run_uuid].filter((v) => v !== undefined);
    if (ids.length === 0) return `no ${field} in the body`;
    for (const id of ids) {
      if (typeof id !== "string" || !runs.has(id)) {
        return `run ${JSON.stringify(id)} was not created by this page`;
      }
    }
    return null;
  };
  const openedExperiment = (id: unknown): string | null =>
    typeof id === "string" && experiments.has(id)
      ? null
      : `experiment ${JSON.stringify(id)} was not opened by this page`;
  const rememberExperiment = (id: unknown) => {
    if (typeof id === "string" && id !== "") experiments.add(id);
  };

  const routes: Route[] = [
    {
      method: "GET",
      api: "experiments/get-by-name",
      query: ["experiment_name"],
      record: (a) => rememberExperiment((a.experiment as Json | undefined)?.experiment_id),
    },
    {
      method: "POST",
      api: "experiments/create",
      record: (a) => rememberExperiment(a.experiment_id),
    },
    {
      method: "POST",
      api: "runs/search",
      check: (b) => {
        const ids = b.experiment_ids;
        if (!Array.isArray(ids) || ids.length === 0) return "no experiment_ids in the body";
        for (const id of ids) {
          const problem = openedExperiment(id);
          if (problem !== null) return problem;
        }
        return null;
      },
    },
    {
      method: "POST",
      api: "runs/create",
      check: (b) => openedExperiment(b.experiment_id),
      record: (a) => {
        const info = (a.run as Json | undefined)?.info as Json | undefined;
        const id = info?.run_id ?? info?.run_uuid;
        if (typeof id !== "string" || id === "") return;
        runs.add(id);
        const root = proxiedArtifactRoot(info?.artifact_uri);
        if (root !== null) artifactRoots.add(root);
      },
    },
    { method: "POST", api: "runs/update", check: ownRun("run_id") },
    { method: "POST", api: "runs/log-batch", check: ownRun("run_id") },
  ];

  async function forward(
    request: Request,
    path: string,
    body: BodyInit | null,
    contentType: string | null,
  ): Promise<Response> {
    const headers = new Headers();
    if (contentType !== null) headers.set("content-type", contentType);
    const accept = request.headers.get("accept");
    if (accept !== null) headers.set("accept", accept);
    if (options.authorization) headers.set("authorization", options.authorization);
    return await upstreamFetch(`${base}/${path}`, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
    });
  }

  /** The server's answer for the page: a 401 gets a hint about the demo's credentials. */
  async function answer(response: Response, route: Route | null): Promise<Response> {
    if (response.status === 401) {
      await response.body?.cancel();
      return errorJson(
        401,
        "UNAUTHENTICATED",
        options.authorization
          ? `The MLflow server at ${base} rejected the credentials the demo server was ` +
            "started with (MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN): " +
            "check them and restart deno task demo"
          : `The MLflow server at ${base} needs credentials: restart deno task demo with ` +
            "MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN set",
      );
    }
    const out = new Headers({ "cache-control": "no-store" });
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) out.set(name, value);
    }
    if (route?.record === undefined || !response.ok) {
      return new Response(response.body, { status: response.status, headers: out });
    }
    // Answers that carry the page's new ids are small JSON objects: read, remember, pass on.
    const text = await response.text();
    try {
      route.record(JSON.parse(text) as Json);
    } catch {
      // Not JSON: nothing to remember; the page will report the answer it cannot parse.
    }
    return new Response(text, { status: response.status, headers: out });
  }

  async function api(request: Request, rest: string, search: URLSearchParams) {
    const route = routes.find((r) => r.method === request.method && r.api === rest);
    if (route === undefined) {
      return refuse(
        `Cannot proxy ${request.method} /mlflow/api/2.0/mlflow/${rest}: the demo forwards only ` +
          routes.map((r) => `${r.method} ${r.api}`).join(", "),
      );
    }
    let path = `api/2.0/mlflow/${route.api}`;
    if (request.method === "GET") {
      const query = new URLSearchParams();
      for (const name of route.query ?? []) {
        const value = search.get(name);
        if (value !== null) query.set(name, value);
      }
      if (query.size > 0) path += `?${query}`;
      return await answer(await forward(request, path, null, null), route);
    }
    const declared = Number(request.headers.get("content-length") ?? "0");
    const bytes = declared > maxJson ? null : await readLimited(request.body, maxJson);
    if (bytes === null) {
      return errorJson(
        413,
        "REQUEST_LIMIT_EXCEEDED",
        `Cannot proxy ${request.method} /mlflow/${path}: the body is larger than ${maxJson} bytes`,
      );
    }
    let body: Json;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes)) as Json;
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new TypeError();
    } catch {
      return errorJson(
        400,
        "INVALID_PARAMETER_VALUE",
        `Cannot proxy ${request.method} /mlflow/${path}: the body is not a JSON object`,
      );
    }
    const problem = route.check?.(body) ?? null;
    if (problem !== null) {
      return refuse(`Cannot proxy ${request.method} /mlflow/${path}: ${problem}`);
    }
    return await answer(await forward(request, path, bytes, "application/json"), route);
  }

  async function upload(request: Request, rest: string): Promise<Response> {
    const action = `Cannot proxy PUT /mlflow/api/2.0/mlflow-artifacts/artifacts/${rest}`;
    const segments = artifactSegments(rest);
    const underOwnRun = segments !== null &&
      segments.some((_, i) => i > 0 && artifactRoots.has(segments.slice(0, i).join("/")));
    if (!underOwnRun) {
      return refuse(`${action}: not an artifact of a run this page created`);
    }
    const lengthHeader = request.headers.get("content-length");
    if (lengthHeader === null || !/^\d+$/.test(lengthHeader)) {
      return errorJson(
        411,
        "INVALID_PARAMETER_VALUE",
        `${action}: an artifact upload needs a Content-Length header`,
      );
    }
    const declared = Number(lengthHeader);
    if (declared > maxUpload) {
      return errorJson(
        413,
        "REQUEST_LIMIT_EXCEEDED",
        `${action}: ${declared} bytes is more than the demo's limit of ${maxUpload} bytes`,
      );
    }
    // Counted on the way: never more than declared (and so than the limit) goes out.
    let seen = 0;
    let overflow = false;
    const counted = (request.body ?? new Blob([]).stream()).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > declared || seen > maxUpload) {
            overflow = true;
            controller.error(new RangeError(`more than ${Math.min(declared, maxUpload)} bytes`));
          } else controller.enqueue(chunk);
        },
      }),
    );
    const path = `api/2.0/mlflow-artifacts/artifacts/${
      segments!.map(encodeURIComponent).join("/")
    }`;
    try {
      return await answer(
        await forward(request, path, counted, "application/octet-stream"),
        null,
      );
    } catch (error) {
      if (overflow) {
        return errorJson(413, "REQUEST_LIMIT_EXCEEDED", `${action}: the body is too large`);
      }
      throw error;
    }
  }

  return async (request, pageOrigin) => {
    const url = new URL(request.url);
    if (!sameSecret(request.headers.get(DEMO_TOKEN_HEADER) ?? "", options.token)) {
      await request.body?.cancel().catch(() => {});
      return refuse(
        `Cannot proxy ${request.method} ${url.pathname}: missing or wrong ${DEMO_TOKEN_HEADER} ` +
          "header (only the page served at the URL that deno task demo printed may use the proxy)",
      );
    }
    // Same-origin only: another web site must not drive the proxy (and its credentials).
    const origin = request.headers.get("origin");
    const site = request.headers.get("sec-fetch-site");
    if ((origin !== null && origin !== pageOrigin) || (site !== null && site !== "same-origin")) {
      await request.body?.cancel().catch(() => {});
      return refuse(
        `Cannot proxy a cross-origin request: origin ${origin ?? "(none)"}, expected ${pageOrigin}`,
      );
    }
    try {
      if (url.pathname.startsWith(API)) {
        return await api(request, url.pathname.slice(API.length), url.searchParams);
      }
      if (request.method === "PUT" && url.pathname.startsWith(ARTIFACTS)) {
        return await upload(request, url.pathname.slice(ARTIFACTS.length));
      }
    } catch (cause) {
      log(`mlflow proxy: ${request.method} ${url.pathname} failed: ${(cause as Error).message}`);
      return errorJson(
        502,
        "BAD_GATEWAY",
        `Cannot reach the MLflow server at ${base}: ${(cause as Error).message}`,
      );
    }
    await request.body?.cancel().catch(() => {});
    return refuse(
      `Cannot proxy ${request.method} ${url.pathname}: the demo forwards only the MLflow calls ` +
        "its page makes (experiments, runs, log-batch, artifact uploads of its own runs)",
    );
  };
}
