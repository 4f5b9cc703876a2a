/**
 * The browser demo's HTTP server (Deno only): serves `web/`, the core bundled for the
 * browser, tfjs' wasm binaries from the npm cache, and a same-origin proxy `/mlflow/...` to
 * an MLflow tracking server whose credentials stay on the server side.
 *
 * @module
 */

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
  /** Where the bundle is written; default a fresh temp dir removed on close. */
  readonly bundleDir?: string;
  /** Progress lines (bundling, listening); default silent. */
  readonly log?: (line: string) => void;
}

/** A running demo server. */
export interface DemoServer {
  /** Base URL of the page, e.g. `http://127.0.0.1:8123/`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** Stops serving and removes the temp bundle dir. */
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

/** Files of `web/` the server hands out, and their content types. */
const STATIC_FILES: Readonly<Record<string, string>> = {
  "/index.html": "text/html; charset=utf-8",
  "/style.css": "text/css; charset=utf-8",
};

/** Path prefixes (after `/mlflow/`) the proxy forwards; everything else is refused. */
const PROXY_PREFIXES = ["api/2.0/mlflow/", "api/2.0/mlflow-artifacts/"];

/** Request headers copied to the tracking server; cookies and auth from the page never are. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept"];
/** Response headers copied back to the page. */
const FORWARDED_RESPONSE_HEADERS = ["content-type", "retry-after"];

/** Bundles `web/app.ts` (and the core it imports) for the browser into `outDir/app.js`. */
export async function bundleDemo(outDir: string): Promise<string> {
  const output = `${outDir}/app.js`;
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--sourcemap",
      "linked",
      "--config",
      new URL("deno.json", ROOT_DIR).pathname,
      new URL("app.ts", WEB_DIR).pathname,
      "-o",
      output,
    ],
    cwd: ROOT_DIR.pathname,
    stdout: "piped",
    stderr: "piped",
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

/** Checks the tracking URI the proxy targets: `http(s)://` only. */
export function parseProxyTarget(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw new TypeError(
      `Cannot proxy to --mlflow-tracking-uri ${JSON.stringify(redactUrl(uri) || "<invalid>")}: ` +
        "not a URL; expected http://host:port or https://host",
      { cause },
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot proxy to --mlflow-tracking-uri with scheme ${url.protocol}: expected http: or ` +
        "https: (a local ./mlruns store cannot be reached from a browser; run " +
        "`mlflow server` and pass its URL)",
    );
  }
  return url;
}

/**
 * Starts the demo server: bundles the page, then serves it on a loopback port.
 *
 * @example
 * ```ts
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
  const log = options.log ?? (() => {});

  const ownBundleDir = options.bundleDir === undefined;
  const bundleDir = options.bundleDir ?? await Deno.makeTempDir({ prefix: "demo-bundle-" });
  const started = performance.now();
  await bundleDemo(bundleDir);
  log(`bundled web/app.ts in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const wasmDir = await wasmDistDir();

  const config = {
    mlflow: target
      ? { enabled: true, target: redactUrl(target.toString()), proxy: "/mlflow" }
      : { enabled: false, target: "", proxy: "/mlflow" },
    wasmPath: "/wasm/",
  };

  let allowedHosts: Set<string> = new Set();
  const handler = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    // DNS rebinding guard: a foreign name resolving to 127.0.0.1 must not reach the page or
    // the proxy (its requests would otherwise look same-origin).
    const hostHeader = (request.headers.get("host") ?? "").toLowerCase();
    if (!allowedHosts.has(hostHeader)) {
      return new Response(
        `Cannot serve host ${JSON.stringify(hostHeader)}: expected one of ${
          [...allowedHosts].join(", ")
        }`,
        { status: 421 },
      );
    }
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/mlflow/")) return await proxy(request, url, info);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", { status: 405 });
    }
    if (path === "/config.json") return json(config);
    const file = path === "/" ? "/index.html" : path;
    if (STATIC_FILES[file]) {
      return await serveFile(new URL(`.${file}`, WEB_DIR).pathname, STATIC_FILES[file]);
    }
    if (file === "/app.js" || file === "/app.js.map") {
      const type = file.endsWith(".map") ? "application/json" : "text/javascript";
      return await serveFile(`${bundleDir}${file}`, `${type}; charset=utf-8`);
    }
    const wasm = /^\/wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(file);
    if (wasm) return await serveFile(`${wasmDir}/${wasm[1]}`, "application/wasm");
    if (file === "/favicon.ico") return new Response(null, { status: 204 });
    return new Response(`Not Found: ${path}`, { status: 404 });
  };

  async function proxy(request: Request, url: URL, _info: Deno.ServeHandlerInfo) {
    if (!target) {
      return errorJson(
        503,
        "TEMPORARILY_UNAVAILABLE",
        "Cannot reach MLflow through the demo: the server was started without " +
          "--mlflow-tracking-uri; restart it with --mlflow-tracking-uri http://host:port",
      );
    }
    // Same-origin only: another web site must not drive the proxy (and its credentials).
    const origin = request.headers.get("origin");
    const site = request.headers.get("sec-fetch-site");
    if ((origin !== null && origin !== url.origin) || (site !== null && site !== "same-origin")) {
      return errorJson(
        403,
        "PERMISSION_DENIED",
        `Cannot proxy a cross-origin request: origin ${origin ?? "(none)"}, expected ${url.origin}`,
      );
    }
    const rest = url.pathname.slice("/mlflow/".length);
    if (!PROXY_PREFIXES.some((prefix) => rest.startsWith(prefix)) || rest.includes("..")) {
      return errorJson(
        404,
        "ENDPOINT_NOT_FOUND",
        `Cannot proxy /mlflow/${rest}: only ${
          PROXY_PREFIXES.map((p) => `/mlflow/${p}...`)
            .join(" and ")
        } are forwarded`,
      );
    }
    const base = target!.toString().replace(/\/$/, "");
    const upstream = new URL(`${base}/${rest}${url.search}`);
    upstream.username = "";
    upstream.password = "";
    const headers = new Headers();
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    if (options.mlflowAuthorization) headers.set("authorization", options.mlflowAuthorization);
    let response: Response;
    try {
      response = await fetch(upstream, {
        method: request.method,
        headers,
        body: request.method === "GET" || request.method === "HEAD"
          ? undefined
          : await request.arrayBuffer(),
        redirect: "manual",
      });
    } catch (cause) {
      log(`mlflow proxy: ${request.method} /${rest} failed: ${(cause as Error).message}`);
      return errorJson(
        502,
        "BAD_GATEWAY",
        `Cannot reach the MLflow server at ${redactUrl(base)}: ${(cause as Error).message}`,
      );
    }
    const out = new Headers({ "cache-control": "no-store" });
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) out.set(name, value);
    }
    return new Response(response.body, { status: response.status, headers: out });
  }

  const server = Deno.serve({ hostname: host, port, onListen: () => {} }, handler);
  const bound = server.addr.port;
  allowedHosts = new Set(
    ["127.0.0.1", "localhost", "[::1]"].map((name) => `${name}:${bound}`),
  );
  const urlHost = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}/`;
  log(`demo serving ${url}` + (target ? ` (mlflow proxy -> ${redactUrl(target.toString())})` : ""));
  let closed = false;
  return {
    url,
    port: bound,
    finished: server.finished,
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown();
      if (ownBundleDir) await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
    },
  };
}

async function serveFile(path: string, contentType: string): Promise<Response> {
  try {
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, {
      headers: {
        "content-type": contentType,
        "cache-control": "no-store",
        // Cross-origin isolation: SharedArrayBuffer, so the CPU kernels use every core.
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("Not Found", { status: 404 });
    throw error;
  }
}
