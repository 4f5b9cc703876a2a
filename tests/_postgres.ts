/**
 * A throwaway PostgreSQL server for tests (MLflow's backend store in production), on a free
 * loopback port with its data in a temporary folder. PostgreSQL refuses to run as root, so
 * under root the cluster belongs to the `postgres` user (`runuser`). MLflow reaches it as
 * `postgresql+psycopg2://...` (psycopg2-binary; `.ci/run` installs both).
 */
import { hasPythonModule } from "./_python.ts";
import { type MlflowTestServer, startMlflowServer } from "./_mlflow_server.ts";

/** A running cluster with one database. */
export interface PostgresTestServer {
  /** The MLflow backend-store URI of the database. */
  readonly uri: string;
  stop(): Promise<void>;
}

async function findBin(): Promise<string | null> {
  try {
    const dirs: string[] = [];
    for await (const e of Deno.readDir("/usr/lib/postgresql")) dirs.push(e.name);
    for (const v of dirs.sort((a, b) => Number(b) - Number(a))) {
      const bin = `/usr/lib/postgresql/${v}/bin`;
      if ((await Deno.stat(`${bin}/initdb`).catch(() => null))?.isFile) return bin;
    }
  } catch { /* not installed */ }
  return null;
}

/** The `ignore` value for a PostgreSQL test; says loudly what is missing. */
export async function skipUnlessPostgres(): Promise<boolean> {
  const missing: string[] = [];
  if (await findBin() === null) missing.push("PostgreSQL (apt-get install -y postgresql)");
  if (!(await hasPythonModule("psycopg2"))) missing.push("psycopg2 (pip install psycopg2-binary)");
  if (missing.length === 0) return false;
  console.warn(
    `\n*** SKIPPING PostgreSQL tests: ${missing.join(", ")} missing; .ci/run installs them ***\n`,
  );
  return true;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(cmd: string, args: string[], asUser: string | null): Promise<void> {
  const [c, a] = asUser === null ? [cmd, args] : ["runuser", ["-u", asUser, "--", cmd, ...args]];
  const out = await new Deno.Command(c, { args: a, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.trim()}`);
  }
}

/** Starts a cluster in `dir` (a fresh temporary folder) with database `mlflow`. */
export async function startPostgres(dir: string): Promise<PostgresTestServer> {
  const bin = await findBin();
  if (bin === null) throw new Error("PostgreSQL is not installed (apt-get install -y postgresql)");
  const asUser = Deno.uid() === 0 ? "postgres" : null;
  const data = `${dir}/pgdata`;
  await Deno.mkdir(data, { recursive: true });
  if (asUser !== null) {
    const id = await new Deno.Command("id", { args: ["-u", asUser], stdout: "piped" }).output();
    const uid = Number(new TextDecoder().decode(id.stdout).trim());
    await Deno.chmod(dir, 0o755);
    await Deno.chown(data, uid, null);
  }
  await run(`${bin}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], asUser);
  const port = freePort();
  await run(`${bin}/pg_ctl`, [
    "-D",
    data,
    "-l",
    `${data}/server.log`,
    "-o",
    `-p ${port} -k ${data} -c listen_addresses=127.0.0.1`,
    "-w",
    "start",
  ], asUser);
  const stop = async () => {
    await run(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"], asUser).catch(() => {});
  };
  try {
    await run(`${bin}/createdb`, [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "mlflow",
    ], asUser);
  } catch (error) {
    await stop();
    throw error;
  }
  return { uri: `postgresql+psycopg2://postgres@127.0.0.1:${port}/mlflow`, stop };
}

/**
 * Runs `fn` against an `mlflow server` whose backend store is a fresh PostgreSQL database in
 * `dir` (artifacts proxied into `dir` too); stops both afterwards.
 */
export async function withMlflowOnPostgres(
  dir: string,
  fn: (server: MlflowTestServer) => Promise<void>,
): Promise<void> {
  const pg = await startPostgres(dir);
  try {
    const server = await startMlflowServer(
      ["--backend-store-uri", pg.uri, "--artifacts-destination", `${dir}/server-artifacts`],
      { logFile: `${dir}/server.log` },
    );
    try {
      await fn(server);
    } finally {
      await server.stop();
    }
  } finally {
    await pg.stop();
  }
}
