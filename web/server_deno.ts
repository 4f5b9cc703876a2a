/**
 * The browser demo's HTTP server (Deno only): serves `web/`, the core bundled for the
 * browser, tfjs' wasm binaries from the npm cache, and a same-origin proxy `/mlflow/...` to
 * an MLflow tracking server whose credentials stay on the server side. This file starts it;
 * the routes are in `_demo_routes_deno.ts`, the files of `web/` and their headers in
 * `_static_files_deno.ts`, the bundle and the wasm folder in `_bundle_deno.ts`, the proxy in
 * `_mlflow_proxy.ts`.
 *
 * @module
 */
import { parseTrackingUri } from "../src/tracking/tracking_uri.ts";
import { bundleDemo, wasmDistDir } from "./_bundle_deno.ts";
import { newDemoToken } from "./_demo_token.ts";
import { type DemoAssets, demoHandler } from "./_demo_routes_deno.ts";
import { createMlflowProxy } from "./_mlflow_proxy.ts";
import { pageHtml } from "./_static_files_deno.ts";

/** Options of {@linkcode startDemoServer}. */
export interface DemoServerOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Loopback host name or address. Default `127.0.0.1`. */
  readonly host?: string;
  /** `http(s)://` MLflow tracking server that `/mlflow/...` forwards to; "" disables it. */
  readonly mlflowTrackingUri?: string;
  /** `Authorization` header value added to proxied requests (never sent to the page). */
  readonly mlflowAuthorization?: string;
  /** Largest artifact upload through the proxy, in bytes (default 256 MiB). */
  readonly maxUploadBytes?: number;
  /**
   * Development only: bundle unminified with a linked source map (`/app.js.map`). Both name
   * local paths (the npm cache, the checkout), so the default is off.
   */
  readonly sourceMap?: boolean;
  /** Where the bundle is written; default a fresh temp dir removed on close. */
  readonly bundleDir?: string;
  /** Aborting it stops the server (or the bundling, if still running) and cleans up. */
  readonly signal?: AbortSignal;
  /** Progress lines (bundling, listening); default silent. */
  readonly log?: (line: string) => void;
}

/** A running demo server. */
export interface DemoServer {
  /**
   * The page's URL with its access token, e.g. `http://127.0.0.1:8123/?token=...`: the
   * page is served only with it, and it embeds the token the `/mlflow` proxy requires.
   */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Stops serving and removes the temp bundle dir; later calls wait for the first. */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/** The host names the demo may bind to: loopback only (the proxy holds credentials). */
export const DEMO_LOOPBACK_HOSTS: readonly string[] = Object.freeze([
  "127.0.0.1",
  "localhost",
  "::1",
  "[::1]",
]);

/** Removes any `user:password@` from a URL, for display. */
export function redactUrl(uri: string): string {
  try {
    const url = new URL(uri);
    url.username = "";
    url.password = "";
    return url.toString().replace(/\/$/, "");
  } catch {
    return "";
  }
}

/**
 * Checks the tracking URI the proxy targets with the toolkit's one URI parser: a tracking
 * server (`http(s)://`) only, without credentials in it.
 */
export function parseProxyTarget(uri: string): URL {
  const location = parseTrackingUri(uri, "/");
  if (location.kind !== "server") {
    throw new TypeError(
      `Cannot proxy to --mlflow-tracking-uri ${JSON.stringify(uri)}: it names a local folder ` +
        "(a local ./mlruns store cannot be reached from a browser; run `mlflow server` and " +
        "pass its http(s):// URL)",
    );
  }
  return new URL(location.url);
}

function addrInUse(host: string, port: number, cause: unknown): Error {
  return new Error(
    `Cannot serve the demo on ${host}:${port}: the port is in use (another demo?); pick ` +
      "another with --port N, or --port 0 for any free one",
    { cause },
  );
}

/**
 * Starts the demo server: binds the port first (so a clash is reported before any work),
 * then bundles the page and serves it on the loopback host. Every failure or abort on the
 * way stops the listener and removes the temporary bundle folder.
 *
 * @example
 * ```ts ignore
 * const server = await startDemoServer({ port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const host = options.host ?? "127.0.0.1";
  if (!DEMO_LOOPBACK_HOSTS.includes(host)) {
    throw new RangeError(
      `Cannot serve the demo on --host ${JSON.stringify(host)}: expected a loopback host ` +
        `(${DEMO_LOOPBACK_HOSTS.join(", ")}); the /mlflow proxy acts with the server's ` +
        "credentials, so it must not be reachable from other machines",
    );
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot serve the demo on --port ${port}: expected an integer 0..65535`);
  }
  const target = options.mlflowTrackingUri ? parseProxyTarget(options.mlflowTrackingUri) : null;
  if (target !== null) {
    target.username = "";
    target.password = "";
  }
  const log = options.log ?? (() => {});
  options.signal?.throwIfAborted();

  const token = newDemoToken();
  const proxy = target === null ? null : createMlflowProxy({
    target,
    authorization: options.mlflowAuthorization,
    token,
    maxUploadBytes: options.maxUploadBytes,
    log,
  });
  const config = {
    mlflow: target
      ? { enabled: true, target: redactUrl(target.toString()), proxy: "/mlflow" }
      : { enabled: false, target: "", proxy: "/mlflow" },
    wasmPath: "/wasm/",
  };

  // Filled in once the bundle is ready; requests that arrive before wait for it (and fail
  // with it, so that shutting down never waits on them).
  let ready!: (assets: DemoAssets) => void;
  let fail!: (error: unknown) => void;
  const assets = new Promise<DemoAssets>((resolve, reject) => {
    ready = resolve;
    fail = reject;
  });
  assets.catch(() => {});
  let allowedHosts: Set<string> = new Set();
  const handler = demoHandler({
    token,
    proxy,
    config,
    sourceMap: options.sourceMap,
    allowedHosts: () => allowedHosts,
    assets,
  });

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: host, port, onListen: () => {} }, handler);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw addrInUse(host, port, error);
    throw error;
  }
  const bound = server.addr.port;
  allowedHosts = new Set(["127.0.0.1", "localhost", "[::1]"].map((name) => `${name}:${bound}`));

  const ownBundleDir = options.bundleDir === undefined;
  let bundleDir = options.bundleDir ?? null;
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      await server.shutdown();
      if (ownBundleDir && bundleDir !== null) {
        await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
      }
    })();
  const onAbort = () => void close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let loaded: DemoAssets;
  try {
    bundleDir ??= await Deno.makeTempDir({ prefix: "demo-bundle-" });
    const started = performance.now();
    await bundleDemo(bundleDir, { sourceMap: options.sourceMap, signal: options.signal });
    log(`bundled web/app.ts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    loaded = { bundleDir, wasmDir: await wasmDistDir(), html: await pageHtml(token) };
    options.signal?.throwIfAborted();
  } catch (error) {
    fail(error);
    options.signal?.removeEventListener("abort", onAbort);
    await close();
    throw error;
  }
  ready(loaded);
  const urlHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}/?token=${token}`;
  log(
    `demo serving http://${urlHost}:${bound}/` +
      (target ? ` (mlflow proxy -> ${redactUrl(target.toString())})` : ""),
  );
  return { url, port: bound, finished: server.finished, close };
}
