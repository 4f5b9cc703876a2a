/**
 * The `/mlflow` proxy's request to the tracking server: only `content-type` and `accept` go
 * on (the page's cookies, `Authorization` and token are dropped), with the server's own
 * credentials; redirects are not followed.
 *
 * @module
 */

/** The tracking server the proxy forwards to. */
export interface Upstream {
  /** The server's URL without credentials or trailing `/`. */
  readonly base: string;
  /** `Authorization` header value added to forwarded requests (never sent to the page). */
  readonly authorization: string | undefined;
  /** `fetch` to the tracking server. */
  readonly fetch: typeof fetch;
}

/** Sends the page's `request` on to `path` under the server, with `body` (already checked). */
export async function forward(
  upstream: Upstream,
  request: Request,
  path: string,
  body: BodyInit | null,
  contentType: string | null,
): Promise<Response> {
  const { base, fetch: upstreamFetch } = upstream;
  const headers = new Headers();
  if (contentType !== null) headers.set("content-type", contentType);
  const accept = request.headers.get("accept");
  if (accept !== null) headers.set("accept", accept);
  if (upstream.authorization) headers.set("authorization", upstream.authorization);
  return await upstreamFetch(`${base}/${path}`, {
    method: request.method,
    headers,
    body,
    redirect: "manual",
  });
}
