/**
 * The demo server's routes: the DNS-rebinding guard on every request, the `/mlflow/...`
 * proxy (or its refusal without a tracking server), `/config.json`, the page behind its
 * token, the style sheet, the bundle and tfjs' wasm binaries. Anything else is 404 or 405.
 *
 * @module
 */
import { DEMO_TOKEN_HEADER, sameSecret } from "./_demo_token.ts";
import type { MlflowProxy } from "./_mlflow_proxy.ts";
import { errorJson } from "./_proxy_answers.ts";
import { CROSS_ORIGIN_ISOLATION, serveFile, STATIC_FILES, WEB_DIR } from "./_static_files_deno.ts";

/** What start-up prepares for the page: the bundle's folder, the wasm folder, the page. */
export interface DemoAssets {
  readonly bundleDir: string;
  readonly wasmDir: string;
  /** `web/index.html` with the token (`pageHtml`). */
  readonly html: string;
}

/** What {@linkcode demoHandler} serves. */
export interface DemoRoutes {
  /** The page's access token, which the proxy requires too. */
  readonly token: string;
  /** The `/mlflow/...` proxy; null when the server was started without a tracking server. */
  readonly proxy: MlflowProxy | null;
  /** The body of `/config.json`. */
  readonly config: object;
  /** Serve `/app.js.map` as well (development). */
  readonly sourceMap?: boolean;
  /** The `Host` header values served (`<loopback name>:<port>`), known once bound. */
  readonly allowedHosts: () => ReadonlySet<string>;
  /**
   * Ready once the bundle is; requests that arrive before wait for it (and fail with it, so
   * that shutting down never waits on them).
   */
  readonly assets: Promise<DemoAssets>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** The server's request handler. */
export function demoHandler(demo: DemoRoutes): (request: Request) => Promise<Response> {
  const { token, proxy, config } = demo;
  return async (request: Request): Promise<Response> => {
    const allowedHosts = demo.allowedHosts();
    // DNS rebinding guard: a foreign name resolving to 127.0.0.1 must not reach the page or
    // the proxy (its requests would otherwise look same-origin).
    const hostHeader = (request.headers.get("host") ?? "").toLowerCase();
    if (!allowedHosts.has(hostHeader)) {
      await request.body?.cancel().catch(() => {});
      return new Response(
        `Cannot serve host ${JSON.stringify(hostHeader)}: expected one of ${
          [...allowedHosts].join(", ")
        }`,
        { status: 421 },
      );
    }
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/mlflow/")) {
      if (proxy === null) {
        const refused = await noProxy(request, token);
        if (refused !== null) return refused;
        return errorJson(
          503,
          "TEMPORARILY_UNAVAILABLE",
          "Cannot reach MLflow through the demo: the server was started without " +
            "--mlflow-tracking-uri; restart it with --mlflow-tracking-uri http://host:port",
        );
      }
      return await proxy(request, url.origin);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      await request.body?.cancel().catch(() => {});
      return new Response("Method Not Allowed", { status: 405 });
    }
    if (path === "/config.json") return json(config);
    if (path === "/favicon.ico") return new Response(null, { status: 204 });
    const { bundleDir, wasmDir, html } = await demo.assets;
    if (path === "/" || path === "/index.html") {
      if (!sameSecret(url.searchParams.get("token") ?? "", token)) {
        return new Response(
          "Cannot open the demo page without its access token: open the URL that " +
            "deno task demo printed (it ends in ?token=...)\n",
          { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } },
        );
      }
      return new Response(html, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
          ...CROSS_ORIGIN_ISOLATION,
        },
      });
    }
    if (STATIC_FILES[path]) {
      return await serveFile(new URL(`.${path}`, WEB_DIR).pathname, STATIC_FILES[path]);
    }
    if (path === "/app.js" || (path === "/app.js.map" && demo.sourceMap)) {
      const type = path.endsWith(".map") ? "application/json" : "text/javascript";
      return await serveFile(`${bundleDir}${path}`, `${type}; charset=utf-8`);
    }
    const wasm = /^\/wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(path);
    if (wasm) return await serveFile(`${wasmDir}/${wasm[1]}`, "application/wasm");
    return new Response(`Not Found: ${path}`, { status: 404 });
  };
}

/** Without a tracking server the proxy forwards nothing, but a request still needs the token. */
async function noProxy(request: Request, token: string): Promise<Response | null> {
  await request.body?.cancel().catch(() => {});
  if (sameSecret(request.headers.get(DEMO_TOKEN_HEADER) ?? "", token)) return null;
  return errorJson(
    403,
    "PERMISSION_DENIED",
    `Cannot proxy ${request.method} ${new URL(request.url).pathname}: missing or wrong ` +
      `${DEMO_TOKEN_HEADER} header`,
  );
}
