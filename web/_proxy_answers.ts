/**
 * What the `/mlflow` proxy answers the page: its own refusals and errors as MLflow-style JSON,
 * and the tracking server's answers passed on with `content-type` and `retry-after` only (no
 * `set-cookie`), a 401 turned into a hint about the demo's credentials.
 *
 * @module
 */
import type { Upstream } from "./_proxy_forward.ts";
import type { Json, Route } from "./_proxy_routes.ts";

/** Response headers copied back to the page. */
const FORWARDED_RESPONSE_HEADERS = ["content-type", "retry-after"];

/** An MLflow-style error answer (`error_code`, `message`), never cached. */
export function errorJson(status: number, errorCode: string, message: string): Response {
  return new Response(JSON.stringify({ error_code: errorCode, message }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** A 403 `PERMISSION_DENIED` answer. */
export function refuse(message: string): Response {
  return errorJson(403, "PERMISSION_DENIED", message);
}

/**
 * The server's answer for the page: a 401 gets a hint about the demo's credentials; the
 * route's `record` remembers the ids of a successful answer.
 */
export async function answer(
  upstream: Upstream,
  response: Response,
  route: Route | null,
): Promise<Response> {
  const { base } = upstream;
  if (response.status === 401) {
    await response.body?.cancel();
    return errorJson(
      401,
      "UNAUTHENTICATED",
      upstream.authorization
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
