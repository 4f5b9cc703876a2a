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
 * No `Deno.*` here: a `Request` in, a `Response` out, `fetch` injected. The allow-list is in
 * `_proxy_routes.ts`, the request to the server in `_proxy_forward.ts`, the answers to the
 * page in `_proxy_answers.ts` and the token in `_demo_token.ts`.
 *
 * @module
 */
import { DEMO_TOKEN_HEADER, sameSecret } from "./_demo_token.ts";
import { answer, errorJson, refuse } from "./_proxy_answers.ts";
import { forward, type Upstream } from "./_proxy_forward.ts";
import { allowedRoutes, artifactSegments, BoundedSet, type Json } from "./_proxy_routes.ts";

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
 * Creates the proxy. Its state (the page's experiments and runs) lives as long as the demo
 * server: a restarted server forgets runs created before.
 */
export function createMlflowProxy(options: MlflowProxyOptions): MlflowProxy {
  const maxJson = options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
  const maxUpload = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const upstreamFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const log = options.log ?? (() => {});
  const base = options.target.toString().replace(/\/+$/, "");
  const upstream: Upstream = { base, authorization: options.authorization, fetch: upstreamFetch };
  const experiments = new BoundedSet(options.maxTracked ?? 1000);
  const runs = new BoundedSet(options.maxTracked ?? 1000);
  /** Artifact roots (`<exp>/<run>/artifacts`) of the page's runs. */
  const artifactRoots = new BoundedSet(options.maxTracked ?? 1000);
  const routes = allowedRoutes(experiments, runs, artifactRoots);

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
      return await answer(upstream, await forward(upstream, request, path, null, null), route);
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
    return await answer(
      upstream,
      await forward(upstream, request, path, bytes, "application/json"),
      route,
    );
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
        upstream,
        await forward(upstream, request, path, counted, "application/octet-stream"),
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
