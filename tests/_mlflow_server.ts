/**
 * Starts a real `python3 -m mlflow server` on a free loopback port for tests, in its own
 * process group so that stopping it also stops uvicorn.
 */

/** A running (or stopped) test server. */
export interface MlflowTestServer {
  readonly uri: string;
  readonly port: number;
  /** Seconds the last start took until /health answered OK. */
  readonly startSeconds: number;
  /** Stops the server and its children (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Starts it again with the same port and backend. */
  restart(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function healthy(uri: string): Promise<boolean> {
  try {
    const r = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
    return (await r.text()).trim() === "OK";
  } catch {
    return false;
  }
}

/**
 * Server arguments for a sqlite backend store and a proxied artifacts destination, both
 * inside the (temporary) directory `dir`.
 */
export function sqliteServerArgs(dir: string): string[] {
  return [
    "--backend-store-uri",
    `sqlite:///${dir}/mlflow.db`,
    "--artifacts-destination",
    `${dir}/server-artifacts`,
  ];
}

/**
 * Starts a server with `backendArgs` (e.g. `--backend-store-uri sqlite:///...`).
 * Waits until `GET /health` is OK (at most `timeoutMs`).
 */
export async function startMlflowServer(
  backendArgs: string[],
  options: { logFile: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<MlflowTestServer> {
  const port = freePort();
  const uri = `http://127.0.0.1:${port}`;
  let child: Deno.ChildProcess | null = null;
  let startSeconds = 0;
  const start = async () => {
    const t0 = performance.now();
    const log = await Deno.open(options.logFile, { create: true, append: true, write: true });
    child = new Deno.Command("setsid", {
      args: [
        "python3",
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--workers",
        "1",
        ...backendArgs,
      ],
      env: {
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false",
        MLFLOW_ALLOW_FILE_STORE: "true",
        GIT_PYTHON_REFRESH: "quiet",
        ...options.env,
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child.stdout.pipeTo(log.writable, { preventClose: true }).catch(() => {});
    child.stderr.pipeTo(log.writable).catch(() => {});
    const deadline = Date.now() + (options.timeoutMs ?? 180_000);
    while (!(await healthy(uri))) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `mlflow server did not answer /health within the timeout; see ${options.logFile}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    startSeconds = (performance.now() - t0) / 1000;
  };
  const stop = async () => {
    const c = child as Deno.ChildProcess | null;
    if (c === null) return;
    child = null;
    const signal = (sig: Deno.Signal) => {
      try {
        Deno.kill(-c.pid, sig); // the whole process group started by setsid
      } catch { /* already gone */ }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 10_000);
    await c.status;
    clearTimeout(timer);
    // uvicorn may outlive the parent briefly: wait until the port is free.
    for (let i = 0; i < 80 && (await healthy(uri)); i++) {
      await new Promise((r) => setTimeout(r, 250));
    }
    signal("SIGKILL");
  };
  await start();
  return {
    uri,
    port,
    get startSeconds() {
      return startSeconds;
    },
    stop,
    restart: start,
  };
}

/** What {@linkcode basicAuthServer} sets up: server args, environment, the admin login. */
export interface BasicAuthSetup {
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly admin: { readonly username: string; readonly password: string };
}

/**
 * Arguments and environment for `mlflow server --app-name basic-auth` with a sqlite backend,
 * artifacts and user store inside `dir`, and an admin with a fresh random password. (The
 * auth app needs the Flask-WTF module: `.ci/run` installs it.)
 */
export async function basicAuthServer(dir: string): Promise<BasicAuthSetup> {
  const random = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0"))
      .join("");
  const admin = { username: "admin", password: `pw-${random()}` };
  const ini = `${dir}/basic_auth.ini`;
  await Deno.writeTextFile(
    ini,
    [
      "[mlflow]",
      "default_permission = READ",
      `database_uri = sqlite:///${dir}/basic_auth.db`,
      `admin_username = ${admin.username}`,
      "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
      "",
    ].join("\n"),
  );
  return {
    args: ["--app-name", "basic-auth", ...sqliteServerArgs(dir)],
    env: {
      MLFLOW_AUTH_CONFIG_PATH: ini,
      MLFLOW_AUTH_ADMIN_PASSWORD: admin.password,
      MLFLOW_FLASK_SERVER_SECRET_KEY: random(),
    },
    admin,
  };
}
