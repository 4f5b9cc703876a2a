/**
 * The one HTTP client of the MLflow REST API: base URL, credentials (Basic or Bearer),
 * per-try timeouts, retries with exponential backoff and jitter (honouring `Retry-After`),
 * error mapping to {@link MlflowRequestError}, and MLflow's JSON (NaN and ±Infinity as the
 * strings "NaN", "Infinity", "-Infinity"). `RestStore` puts the endpoints on top.
 *
 * @module
 */
import { MlflowRequestError } from "./mlflow_request_error.ts";
import { trackingServerUrl } from "./tracking_uri.ts";

/** Credentials, read from MLflow's environment variables by {@link credentialsFromEnv}. */
export type MlflowCredentials =
  | { kind: "basic"; username: string; password: string }
  | { kind: "bearer"; token: string };

/** Retry policy; MLflow's client retries 408/429/5xx and connection errors. */
export interface RetryPolicy {
  /** Retries after the first try (default 5). */
  maxRetries: number;
  /** First backoff in ms, doubled per retry (default 500). */
  baseDelayMs: number;
  /** Cap on one wait in ms, `Retry-After` included (default 30000). */
  maxDelayMs: number;
  /** Random extra wait in [0, jitterMs) (default 250). */
  jitterMs: number;
}

/** Options of {@link RestTransport} (and of `RestStore`, which passes them on). */
export interface RestTransportOptions {
  /** Tracking server base URI, e.g. `http://127.0.0.1:5000` (no credentials in it). */
  uri: string;
  /** `fetch` to use (the global one by default). */
  fetch?: typeof fetch;
  credentials?: MlflowCredentials | null;
  retry?: Partial<RetryPolicy>;
  /** Waits; injectable for tests (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Random in [0, 1) for jitter (default Math.random). */
  random?: () => number;
  /** Per-try timeout in ms (default 60000). */
  timeoutMs?: number;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** MLflow's credential variables: username/password (Basic) win over the token (Bearer). */
export function credentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): MlflowCredentials | null {
  const username = env.MLFLOW_TRACKING_USERNAME, password = env.MLFLOW_TRACKING_PASSWORD;
  if (username && password !== undefined) return { kind: "basic", username, password };
  if (env.MLFLOW_TRACKING_TOKEN) return { kind: "bearer", token: env.MLFLOW_TRACKING_TOKEN };
  return null;
}

/** The `Authorization` header value for credentials (UTF-8 user:password for Basic). */
export function authorizationHeader(credentials: MlflowCredentials): string {
  if (credentials.kind === "bearer") return `Bearer ${credentials.token}`;
  const bytes = new TextEncoder().encode(`${credentials.username}:${credentials.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** JSON with non-finite numbers as MLflow's strings "NaN", "Infinity", "-Infinity". */
export function encodeMlflowJson(body: unknown): string {
  return JSON.stringify(body, (_key, value) => {
    if (typeof value === "number" && !Number.isFinite(value)) {
      return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    }
    return value;
  });
}

/** A number from MLflow's JSON, where non-finite values arrive as strings. */
export function decodeMlflowNumber(value: unknown): number {
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return Number(value);
}

/** HTTP to one tracking server; every call retries, times out and maps errors the same way. */
export class RestTransport {
  /** The server's base URL, without credentials or a trailing `/`. */
  readonly baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #auth: string | null;
  /** Where the credentials came from, for the hint of a 401. */
  readonly #authSource: string | null;
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #timeoutMs: number;

  /** A transport for the server at `options.uri`; throws RangeError for a non-http(s) URI. */
  constructor(options: RestTransportOptions) {
    this.baseUrl = trackingServerUrl(options.uri);
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const c = options.credentials ?? null;
    this.#auth = c ? authorizationHeader(c) : null;
    this.#authSource = c === null
      ? null
      : c.kind === "basic"
      ? "MLFLOW_TRACKING_USERNAME/PASSWORD"
      : "MLFLOW_TRACKING_TOKEN";
    this.#retry = {
      maxRetries: 5,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      jitterMs: 250,
      ...options.retry,
    };
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  #retryDelay(attempt: number, retryAfter: string | null): number {
    let delay = this.#retry.baseDelayMs * 2 ** attempt + this.#random() * this.#retry.jitterMs;
    if (retryAfter !== null) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms)) delay = Math.max(delay, ms);
    }
    return Math.min(delay, this.#retry.maxDelayMs);
  }

  /**
   * One HTTP call to `<base><path>` with retries; returns the response of a 2xx answer.
   * `action` completes "Cannot <action> at <server>: ..." in errors.
   */
  async send(
    method: string,
    path: string,
    body: BodyInit | null,
    contentType: string | null,
    action: string,
  ): Promise<Response> {
    const endpoint = `${method} ${path.split("?")[0]}`;
    let lastError: unknown = null;
    for (let attempt = 0; attempt <= this.#retry.maxRetries; attempt++) {
      if (attempt > 0) {
        const retryAfter = lastError instanceof Response
          ? lastError.headers.get("retry-after")
          : null;
        await this.#sleep(this.#retryDelay(attempt - 1, retryAfter));
      }
      const headers: Record<string, string> = {};
      if (contentType !== null) headers["content-type"] = contentType;
      if (this.#auth !== null) headers.authorization = this.#auth;
      let response: Response;
      try {
        response = await this.#fetch(`${this.baseUrl}${path}`, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
          // Credentials and data go to the configured server only: never follow a redirect.
          redirect: "manual",
        });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (response.ok) return response;
      if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
        throw await this.#redirectError(response, endpoint, action);
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.#retry.maxRetries) {
        await response.body?.cancel();
        lastError = response;
        continue;
      }
      throw await this.#error(response, endpoint, action);
    }
    if (lastError instanceof Response) throw await this.#error(lastError, endpoint, action);
    throw new MlflowRequestError(
      `Cannot ${action} at ${this.baseUrl}: no answer after ${this.#retry.maxRetries + 1} tries ` +
        `(${
          lastError instanceof Error ? lastError.message : String(lastError)
        }); is the server up?`,
      { status: 0, errorCode: "CONNECTION_ERROR", endpoint },
      { cause: lastError },
    );
  }

  async #redirectError(
    response: Response,
    endpoint: string,
    action: string,
  ): Promise<MlflowRequestError> {
    await response.body?.cancel();
    const location = response.headers.get("location");
    let where = "elsewhere";
    if (location !== null) {
      try {
        where = new URL(location, this.baseUrl).origin;
      } catch { /* keep "elsewhere" */ }
    }
    return new MlflowRequestError(
      `Cannot ${action} at ${this.baseUrl}: the server redirects (HTTP ${response.status}) to ` +
        `${where}; credentials and data are sent only to the configured tracking URI, so ` +
        `set it to the address the server redirects to`,
      { status: response.status, errorCode: "REDIRECT_REFUSED", endpoint },
    );
  }

  async #error(response: Response, endpoint: string, action: string): Promise<MlflowRequestError> {
    let text = "";
    try {
      text = await response.text();
    } catch { /* body unreadable: keep the status */ }
    let errorCode = `HTTP_${response.status}`;
    let detail = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error_code?: string; message?: string };
      if (parsed.error_code) errorCode = parsed.error_code;
      if (parsed.message) detail = parsed.message;
    } catch { /* not JSON */ }
    let hint = "";
    if (response.status === 401 && this.#authSource !== null) {
      hint = `; the server rejected the credentials from ${this.#authSource}: check them`;
    } else if (response.status === 401 && !detail.includes("MLFLOW_TRACKING_")) {
      // (A proxy that holds the credentials, like the demo's, says which hint applies.)
      hint = "; set MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN";
    }
    if (response.status === 503 && endpoint.includes("mlflow-artifacts")) {
      hint = "; the server does not serve artifacts (started with --no-serve-artifacts?): " +
        "restart it with --serve-artifacts and --artifacts-destination";
    }
    return new MlflowRequestError(
      `Cannot ${action} at ${this.baseUrl}: HTTP ${response.status} ${errorCode}: ${detail}${hint}`,
      { status: response.status, errorCode, endpoint },
    );
  }

  /**
   * Calls `/api/2.0/mlflow/<api>`: GET with `payload` as the query (null and undefined
   * left out), POST and PATCH with it as the JSON body. Returns the parsed answer.
   */
  async callJson<T>(
    method: "GET" | "POST" | "PATCH",
    api: string,
    payload: Record<string, unknown>,
    action: string,
  ): Promise<T> {
    let path = `/api/2.0/mlflow/${api}`;
    let body: string | null = null;
    if (method === "GET") {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) {
        if (v !== undefined && v !== null) query.set(k, String(v));
      }
      const q = query.toString();
      if (q !== "") path += `?${q}`;
    } else body = encodeMlflowJson(payload);
    const response = await this.send(
      method,
      path,
      body,
      method === "GET" ? null : "application/json",
      action,
    );
    const text = await response.text();
    return (text === "" ? {} : JSON.parse(text)) as T;
  }
}
