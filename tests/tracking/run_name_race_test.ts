/**
 * Run names under concurrency: many runs of one prefix created at once get distinct
 * `<prefix>-run<N>` names on the file store, on `mlflow server` with sqlite and with
 * PostgreSQL. Each namer has its own store object (no shared cache), as separate processes
 * would. The naive "search, then create" is run through the same harness first, to show the
 * harness does race (it gives duplicates).
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { skipUnlessPostgres, withMlflowOnPostgres } from "../_postgres.ts";
import { FileStore } from "../../src/tracking/file_store.ts";
import { denoFileSystem } from "../../src/tracking/file_system_deno.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";
import {
  createNamedRun,
  nextRunName,
  pendingRunName,
  RUN_NAME_PREFIX_TAG,
} from "../../src/tracking/run_name.ts";
import { getOrCreateExperiment, type TrackingStore } from "../../src/tracking/tracking_store.ts";

const noMlflow = await skipUnlessPython("mlflow");
const noPostgres = noMlflow || await skipUnlessPostgres();
const PREFIX = "v1-l16-race";
const RACERS = 12;

/** Run names of an experiment as python's MlflowClient sees them. */
function pyRunNames(uri: string, experiment: string): Promise<string[]> {
  return pythonJson<string[]>(
    `import json, sys\nfrom mlflow import MlflowClient\nc = MlflowClient(sys.argv[1])\n` +
      `e = c.get_experiment_by_name(sys.argv[2])\n` +
      `print(json.dumps([r.info.run_name for r in c.search_runs([e.experiment_id], max_results=1000)]))`,
    { args: [uri, experiment], env: { MLFLOW_ALLOW_FILE_STORE: "true" } },
  );
}

function duplicates(names: string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

/** `RACERS` namers at once, each with its own store; returns the names they got. */
async function race(stores: () => TrackingStore, experiment: string): Promise<string[]> {
  const experimentId = await getOrCreateExperiment(stores(), experiment);
  const runs = await Promise.all(
    Array.from({ length: RACERS }, (_, i) =>
      createNamedRun(stores(), {
        experimentId,
        prefix: PREFIX,
        userId: `racer${i}`,
        startTime: Date.now(),
      })),
  );
  return runs.map((r) => r.runName);
}

/** The old way, for the control: read the highest number, then create. */
async function naiveRace(stores: () => TrackingStore, experiment: string): Promise<string[]> {
  const experimentId = await getOrCreateExperiment(stores(), experiment);
  const runs = await Promise.all(
    Array.from({ length: RACERS }, async () => {
      const store = stores();
      const name = nextRunName(
        PREFIX,
        (await store.searchRuns([experimentId])).map((r) => r.info.runName),
      );
      return store.createRun({ experimentId, runName: name, userId: "naive", startTime: 0 });
    }),
  );
  return runs.map((r) => r.runName);
}

async function checkStore(
  t: Deno.TestContext,
  uri: string,
  stores: () => TrackingStore,
): Promise<void> {
  await t.step("control: the naive search-then-create gives duplicate names", async () => {
    const names = await naiveRace(stores, "naive");
    assert.ok(duplicates(names).length > 0, `no duplicate among ${names.join(", ")}`);
  });
  await t.step(`${RACERS} runs created at once get ${RACERS} distinct names`, async () => {
    const names = await race(stores, "race");
    assert.deepEqual(duplicates(names), [], names.join(", "));
    for (const name of names) assert.match(name, /^v1-l16-race-run\d+$/);
    const seen = await pyRunNames(uri, "race");
    assert.deepEqual(seen.sort(), [...names].sort(), "MLflow's client sees the same names");
  });
  await t.step("the next round continues after the highest number", async () => {
    const store = stores();
    const experimentId = (await store.getExperimentByName("race"))!.experimentId;
    const before = (await store.searchRuns([experimentId])).map((r) => r.info.runName);
    const highest = Math.max(...before.map((n) => Number(n.split("-run").pop())));
    const names = await race(stores, "race");
    assert.deepEqual(duplicates([...before, ...names]), []);
    for (const name of names) {
      assert.ok(Number(name.split("-run").pop()) > highest, `${name} <= run${highest}`);
    }
  });
  await t.step("a run that died while picking its number holds nobody up for ever", async () => {
    const store = stores();
    const experimentId = await getOrCreateExperiment(store, "race");
    // A pending run started 10 minutes ago (its process was killed mid-naming).
    await store.createRun({
      experimentId,
      runName: pendingRunName(PREFIX),
      userId: "dead",
      startTime: Date.now() - 600_000,
      tags: { [RUN_NAME_PREFIX_TAG]: PREFIX },
    });
    const t0 = performance.now();
    const run = await createNamedRun(store, {
      experimentId,
      prefix: PREFIX,
      userId: "late",
      startTime: Date.now(),
    });
    assert.match(run.runName, /^v1-l16-race-run\d+$/);
    assert.ok(performance.now() - t0 < 30_000);
  });
}

Deno.test({
  name: "createNamedRun() gives distinct names to concurrent runs on the file store",
  ignore: noMlflow,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "race_file_" });
    try {
      await checkStore(
        t,
        `file://${dir}/mlruns`,
        () => new FileStore(denoFileSystem(), `${dir}/mlruns`),
      );
      await t.step("one experiment, however many processes create it at once", async () => {
        const ids = await Promise.all(
          Array.from(
            { length: 8 },
            () => getOrCreateExperiment(new FileStore(denoFileSystem(), `${dir}/mlruns`), "new"),
          ),
        );
        assert.equal(new Set(ids).size, 1, ids.join(", "));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "createNamedRun() gives distinct names to concurrent runs on mlflow server with sqlite",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "race_sqlite_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), {
      logFile: `${dir}/server.log`,
    });
    try {
      await checkStore(t, server.uri, () => new RestStore({ uri: server.uri }));
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "createNamedRun() gives distinct names to concurrent runs on mlflow server with PostgreSQL",
  ignore: noPostgres,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "race_pg_" });
    try {
      await withMlflowOnPostgres(dir, async (server) => {
        await checkStore(t, server.uri, () => new RestStore({ uri: server.uri }));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
