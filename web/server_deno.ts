/**
 * The browser demo's HTTP server (Deno only): serves `web/`, the core bundled for the
 * browser, tfjs' wasm binaries from the npm cache, and a same-origin proxy `/mlflow/...` to
 * an MLflow tracking server whose credentials stay on the server side.
 *
 * @module
 */
import { parseTrackingUri } from "../src/tracking/tracking_uri.ts";
import { DEMO_TOKEN_HEADER, newDemoToken, sameSecret } from "./_demo_token.ts";
import { createMlflowProxy } from "./_mlflow_proxy.ts";

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

const WEB_DIR = new URL("./", import.meta.url);
const ROOT_DIR = new URL("../", import.meta.url);

/** Files of `web/` the server hands out (the page itself is served apart), and their types. */
const STATIC_FILES: Readonly<Record<string, string>> = {
  "/style.css": "text/css; charset=utf-8",
};

/** Options of {@linkcode bundleDemo}. */
export interface BundleOptions {
  /** Unminified with a linked `app.js.map` (development); default minified, no map. */
  readonly sourceMap?: boolean;
  /** Aborting it kills the bundler. */
  readonly signal?: AbortSignal;
}

/**
 * Bundles `web/app.ts` (and the core it imports) for the browser into `outDir/app.js`.
 * Minified by default: an unminified bundle carries one comment per module naming its path
 * in the local npm cache.
 */
export async function bundleDemo(outDir: string, options: BundleOptions = {}): Promise<string> {
  const output = `${outDir}/app.js`;
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      ...(options.sourceMap ? ["--sourcemap", "linked"] : ["--minify", "--keep-names"]),
      "--config",
      new URL("deno.json", ROOT_DIR).pathname,
      new URL("app.ts", WEB_DIR).pathname,
      "-o",
      output,
    ],
    cwd: ROOT_DIR.pathname,
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  });
  const { code, stdout, stderr } = await cmd.output();
  if (code !== 0) {
    const text = new TextDecoder().decode(stderr) + new TextDecoder().decode(stdout);
    throw new Error(
      `Cannot bundle the demo page web/app.ts: deno bundle exited with ${code}:\n${text}`,
    );
  }
  return output;
}

/**
 * Deno's npm cache keeps one folder per registry host; the package lives under whichever
 * holds it. Returns the first match, or the first candidate (reported as missing below).
 */
async function findInNpmCache(npmCache: string, packagePath: string): Promise<string> {
  const candidates: string[] = [];
  for await (const entry of Deno.readDir(npmCache)) {
    if (entry.isDirectory) candidates.push(`${npmCache}/${entry.name}/${packagePath}`);
  }
  for (const dir of candidates) {
    try {
      if ((await Deno.stat(dir)).isDirectory) return dir;
    } catch {
      // not in this registry's folder
    }
  }
  return candidates[0] ?? `${npmCache}/${packagePath}`;
}

/** The folder holding tfjs-backend-wasm's `.wasm` files (in Deno's npm cache). */
export async function wasmDistDir(): Promise<string> {
  const specifier = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  let dir: string;
  if (specifier.startsWith("file://")) {
    dir = new URL(".", specifier).pathname.replace(/\/$/, "");
  } else {
    const match = /^npm:\/?(@tensorflow\/tfjs-backend-wasm)@([^/]+)/.exec(specifier);
    if (!match) {
      throw new Error(
        `Cannot locate the tfjs wasm binaries: @tensorflow/tfjs-backend-wasm resolves to ` +
          `${specifier}, expected a file: or npm: specifier`,
      );
    }
    const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" });
    const { npmCache } = JSON.parse(new TextDecoder().decode((await info.output()).stdout)) as {
      npmCache: string;
    };
    dir = await findInNpmCache(npmCache, `${match[1]}/${match[2]}/dist`);
  }
  try {
    await Deno.stat(`${dir}/tfjs-backend-wasm-simd.wasm`);
  } catch (cause) {
    throw new Error(
      `Cannot locate the tfjs wasm binaries: ${dir}/tfjs-backend-wasm-simd.wasm is missing; ` +
        `hint: run "deno cache web/app.ts" once to fill the npm cache`,
      { cause },
    );
  }
  return dir;
}

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

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function errorJson(status: number, errorCode: string, message: string): Response {
  return json({ error_code: errorCode, message }, status);
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

/** The page as served: `web/index.html` with the proxy token in a `<meta>` tag. */
async function pageHtml(token: string): Promise<string> {
  const html = await Deno.readTextFile(new URL("index.html", WEB_DIR));
  if (!html.includes("<head>")) {
    throw new SyntaxError("Cannot serve web/index.html: it has no <head> tag for the token");
  }
  return html.replace("<head>", `<head>\n    <meta name="demo-token" content="${token}">`);
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
  let assets: { bundleDir: string; wasmDir: string; html: string } | null = null;
  let ready!: () => void;
  let fail!: (error: unknown) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    ready = resolve;
    fail = reject;
  });
  readyPromise.catch(() => {});
  let allowedHosts: Set<string> = new Set();

  const handler = async (request: Request): Promise<Response> => {
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
    await readyPromise;
    const { bundleDir, wasmDir, html } = assets!;
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
    if (path === "/app.js" || (path === "/app.js.map" && options.sourceMap)) {
      const type = path.endsWith(".map") ? "application/json" : "text/javascript";
      return await serveFile(`${bundleDir}${path}`, `${type}; charset=utf-8`);
    }
    const wasm = /^\/wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(path);
    if (wasm) return await serveFile(`${wasmDir}/${wasm[1]}`, "application/wasm");
    return new Response(`Not Found: ${path}`, { status: 404 });
  };

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
  try {
    bundleDir ??= await Deno.makeTempDir({ prefix: "demo-bundle-" });
    const started = performance.now();
    await bundleDemo(bundleDir, { sourceMap: options.sourceMap, signal: options.signal });
    log(`bundled web/app.ts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assets = { bundleDir, wasmDir: await wasmDistDir(), html: await pageHtml(token) };
    options.signal?.throwIfAborted();
  } catch (error) {
    fail(error);
    options.signal?.removeEventListener("abort", onAbort);
    await close();
    throw error;
  }
  ready();
  const urlHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}/?token=${token}`;
  log(
    `demo serving http://${urlHost}:${bound}/` +
      (target ? ` (mlflow proxy -> ${redactUrl(target.toString())})` : ""),
  );
  return { url, port: bound, finished: server.finished, close };
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

/**
 * Cross-origin isolation for the page and everything it loads (all same-origin): it gets
 * SharedArrayBuffer, so the CPU kernels use every core the browser reports.
 */
const CROSS_ORIGIN_ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
} as const;

async function serveFile(path: string, contentType: string): Promise<Response> {
  try {
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, {
      headers: {
        "content-type": contentType,
        "cache-control": "no-store",
        ...CROSS_ORIGIN_ISOLATION,
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("Not Found", { status: 404 });
    throw error;
  }
}
