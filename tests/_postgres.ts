/**
 * Starts a throwaway PostgreSQL server for tests: Debian's `postgresql` binaries
 * (`initdb`, `postgres`), a cluster in a temporary folder, a free loopback port, run as a
 * non-root user (the package's `postgres` account when the tests run as root: PostgreSQL
 * refuses root). `mlflow server --backend-store-uri <uri>` uses it through psycopg2.
 * `.ci/run` installs both; without them the tests that need it skip loudly.
 */

/** A running test cluster. */
export interface PostgresTestServer {
  /** SQLAlchemy URI for MLflow: `postgresql+psycopg2://mlflow@127.0.0.1:<port>/mlflow`. */
  readonly uri: string;
  readonly port: number;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
}

const BIN_ROOT = "/usr/lib/postgresql";

/** The newest installed `/usr/lib/postgresql/<version>/bin`, or null. */
async function postgresBin(): Promise<string | null> {
  const versions: number[] = [];
  try {
    for await (const e of Deno.readDir(BIN_ROOT)) {
      if (/^\d+$/.test(e.name)) versions.push(Number(e.name));
    }
  } catch {
    return null;
  }
  for (const v of versions.sort((a, b) => b - a)) {
    try {
      await Deno.stat(`${BIN_ROOT}/${v}/bin/initdb`);
      return `${BIN_ROOT}/${v}/bin`;
    } catch { /* next */ }
  }
  return null;
}

/** uid and gid of the `postgres` account, from /etc/passwd. */
async function postgresAccount(): Promise<{ uid: number; gid: number } | null> {
  try {
    for (const line of (await Deno.readTextFile("/etc/passwd")).split("\n")) {
      const [name, , uid, gid] = line.split(":");
      if (name === "postgres") return { uid: Number(uid), gid: Number(gid) };
    }
  } catch { /* none */ }
  return null;
}

async function hasPsycopg2(): Promise<boolean> {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import psycopg2"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * True (= ignore the test) when PostgreSQL or psycopg2 is missing, after printing a loud
 * `*** SKIPPING` line naming what to install.
 */
export async function skipUnlessPostgres(what: string): Promise<boolean> {
  const missing: string[] = [];
  if (await postgresBin() === null) missing.push("PostgreSQL (apt-get install -y postgresql)");
  if (Deno.uid() === 0 && await postgresAccount() === null) {
    missing.push("the postgres account (apt-get install -y postgresql)");
  }
  if (!(await hasPsycopg2())) missing.push("psycopg2 (pip install psycopg2-binary)");
  if (missing.length === 0) return false;
  console.warn(`*** SKIPPING ${what}: missing ${missing.join(", ")}`);
  return true;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs a PostgreSQL binary as the cluster's owner; throws with its output on failure. */
async function runAs(
  account: { uid: number; gid: number } | null,
  cmd: string,
  args: string[],
  cwd: string,
): Promise<void> {
  const [exe, argv] = account === null ? [cmd, args] : ["setpriv", [
    `--reuid=${account.uid}`,
    `--regid=${account.gid}`,
    "--clear-groups",
    cmd,
    ...args,
  ]];
  const out = await new Deno.Command(exe, { args: argv, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`,
    );
  }
}

/**
 * Creates a cluster in a new temporary folder (trust authentication on loopback only, no
 * fsync: test data), starts it on a free port and creates the database `mlflow`.
 */
export async function startPostgres(): Promise<PostgresTestServer> {
  const bin = await postgresBin();
  if (bin === null) throw new Error("PostgreSQL binaries not found under /usr/lib/postgresql");
  const account = Deno.uid() === 0 ? await postgresAccount() : null;
  const dir = await Deno.makeTempDir({ prefix: "pg_test_" });
  const data = `${dir}/data`;
  if (account !== null) await Deno.chown(dir, account.uid, account.gid);
  await runAs(account, `${bin}/initdb`, [
    "-D",
    data,
    "-U",
    "mlflow",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
  ], dir);
  const port = freePort();
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    "-c",
    "max_connections=200",
  ];
  const log = await Deno.open(`${dir}/postgres.log`, { write: true, create: true });
  const child = new Deno.Command(account === null ? `${bin}/postgres` : "setpriv", {
    args: account === null ? args : [
      `--reuid=${account.uid}`,
      `--regid=${account.gid}`,
      "--clear-groups",
      `${bin}/postgres`,
      ...args,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  child.stdout.pipeTo(log.writable, { preventClose: true }).catch(() => {});
  child.stderr.pipeTo(log.writable).catch(() => {});
  const stop = async () => {
    try {
      child.kill("SIGINT"); // fast shutdown
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await new Deno.Command(`${bin}/pg_isready`, {
        args: ["-h", "127.0.0.1", "-p", String(port)],
        stdout: "null",
        stderr: "null",
      }).output();
      if (ready.success) break;
      if (Date.now() > deadline) {
        throw new Error(`PostgreSQL did not start; see ${dir}/postgres.log`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await runAs(account, `${bin}/createdb`, [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "mlflow",
      "mlflow",
    ], dir);
  } catch (error) {
    await stop();
    throw error;
  }
  return { uri: `postgresql+psycopg2://mlflow@127.0.0.1:${port}/mlflow`, port, stop };
}
