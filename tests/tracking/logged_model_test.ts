import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import {
  DATASETS,
  PROFILE,
  type PyRunView,
  pyRunView,
  SCHEMA,
  writeReferenceRun,
} from "./_logged_model_py.ts";
import { md5Hex } from "../../src/tracking/_md5.ts";
import { parseYaml } from "../../src/tracking/_yaml.ts";
import { FileStore } from "../../src/tracking/file_store.ts";
import { denoFileSystem } from "../../src/tracking/file_system_deno.ts";
import { logModel } from "../../src/tracking/logged_model.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";
import {
  getOrCreateExperiment,
  type MlflowDatasetInput,
  type TrackingStore,
} from "../../src/tracking/tracking_store.ts";

const noMlflow = await skipUnlessPython("mlflow");

Deno.test("md5Hex() agrees with python's hashlib on every padding length", async () => {
  const texts = [
    "",
    "abc",
    "train_sequences0f1e",
    ..."x".repeat(130).split("").map((_, i) => "é".repeat(i)),
  ];
  const ours = texts.map((t) => md5Hex(new TextEncoder().encode(t)));
  const { pythonJson } = await import("../_python.ts");
  const theirs = await pythonJson<string[]>(
    "import hashlib, json, sys\nprint(json.dumps([hashlib.md5(t.encode()).hexdigest() for t in json.loads(sys.stdin.read())]))",
    { stdin: JSON.stringify(texts) },
  );
  assert.deepEqual(ours, theirs);
});

const RECORD_ID = "5b0e1d8c-0000-4000-8000-000000000001";

const datasetInputs = (): MlflowDatasetInput[] =>
  DATASETS.map((d) => ({
    dataset: {
      name: d.name,
      digest: d.digest,
      sourceType: "local",
      source: `{"uri": "/data/${d.name}.npz"}`, // json.dumps' spacing, as Python writes it
      schema: SCHEMA,
      profile: PROFILE,
    },
    tags: { "mlflow.data.context": d.context },
  }));

/** The toolkit's equivalent of the reference run: returns run and model ids. */
async function writeOurRun(store: TrackingStore, experiment: string) {
  const experimentId = await getOrCreateExperiment(store, experiment);
  const run = await store.createRun({
    experimentId,
    runName: "our-run",
    userId: "me",
    startTime: Date.now(),
  });
  await store.logBatch(run.runId, {
    params: { lr: "0.001" },
    metrics: [1, 2].map((step) => ({
      key: "val_macro_f1",
      value: 0.3 + step / 10,
      timestamp: Date.now() + step,
      step,
    })),
  });
  await store.logInputs(run.runId, datasetInputs());
  await store.logInputs(run.runId, datasetInputs().slice(0, 1)); // logged twice: kept once
  const model = await logModel(store, run.runId, {
    recordId: RECORD_ID,
    name: "best",
    params: { lr: "0.001" },
    tags: {
      "mlflow.user": "me",
      "mlflow.source.name": "cli/train.ts",
      "mlflow.source.type": "LOCAL",
    },
    flavors: {
      component_x_lstm: { format: "toolkit checkpoint", files: { weights: "weights.safetensors" } },
    },
    files: { "weights.safetensors": new Uint8Array([1, 2, 3]) },
    step: 2,
  });
  await store.updateRun(run.runId, { status: "FINISHED", endTime: Date.now() });
  return { experimentId, runId: run.runId, modelId: model.modelId };
}

/** Every file under `dir`, relative, sorted. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await tree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    else out.push(prefix + e.name);
  }
  return out.sort();
}

/** What MLflow's client must read back from the toolkit's run, on any store. */
function assertRunView(view: PyRunView, ids: { runId: string; modelId: string }): void {
  assert.deepEqual(
    view.inputs.map((i) => [i.name, i.digest, i.context]),
    DATASETS.map((d) => [d.name, d.digest, d.context]),
  );
  assert.equal(JSON.parse(view.inputs[0].source).uri, "/data/train_sequences.npz");
  assert.deepEqual(JSON.parse(view.inputs[0].profile), JSON.parse(PROFILE));
  assert.deepEqual(view.outputs, [{ model_id: ids.modelId, step: 2 }]);
  assert.equal(view.models.length, 1);
  const m = view.models[0];
  assert.equal(m.model_id, ids.modelId);
  assert.equal(m.name, "best");
  assert.equal(m.status, "READY");
  assert.equal(m.source_run_id, ids.runId);
  assert.deepEqual(m.params, { lr: "0.001" });
  assert.equal(m.tags["mlflow.source.name"], "cli/train.ts");
  assert.equal(m.tags["toolkit.logged_model_record"], RECORD_ID);
  assert.deepEqual(m.metrics, [["val_macro_f1", 0.5, 2, ids.runId]]);
  assert.deepEqual(m.artifacts.filter((a) => a !== "registered_model_meta"), [
    "MLmodel",
    "weights.safetensors",
  ]);
  assert.deepEqual(m.flavors, {
    component_x_lstm: { format: "toolkit checkpoint", files: { weights: "weights.safetensors" } },
  });
}

Deno.test({
  name: "FileStore writes data sets and a logged model in MLflow's own file-store layout",
  ignore: noMlflow,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "logged_model_file_" });
    try {
      const ref = await writeReferenceRun(`${dir}/python`);
      const store = new FileStore(denoFileSystem(), `${dir}/ours`);
      const ours = await writeOurRun(store, "reference");

      const norm = (paths: string[], ids: { exp: string; run: string; model: string }) =>
        paths.filter((p) => p.startsWith(`${ids.exp}/`)).map((p) =>
          p.replaceAll(ids.model, "<model>").replace(ids.exp, "<exp>").replace(ids.run, "<run>")
            .replace(/inputs\/[0-9a-f]{32}/, "inputs/<input>")
        ).filter((p) => !/<run>\/(tags|params|metrics)\//.test(p) && !p.endsWith("<exp>/meta.yaml"))
          .sort(); // after the ids are replaced: a random run id sorts either side of "datasets"
      const pyTree = norm(await tree(`${dir}/python`), {
        exp: ref.experiment_id,
        run: ref.run_id,
        model: ref.model_id,
      });
      const ourTree = norm(await tree(`${dir}/ours`), {
        exp: ours.experimentId,
        run: ours.runId,
        model: ours.modelId,
      });
      assert.deepEqual(ourTree, pyTree);
      // The folder names are MLflow's: md5(name + digest) and md5(dataset id + run id).
      for (const d of DATASETS) {
        const datasetId = md5Hex(new TextEncoder().encode(d.name + d.digest));
        assert.ok(ourTree.includes(`<exp>/datasets/${datasetId}/meta.yaml`), datasetId);
        const inputId = md5Hex(new TextEncoder().encode(datasetId + ours.runId));
        const meta = parseYaml(
          await Deno.readTextFile(
            `${dir}/ours/${ours.experimentId}/${ours.runId}/inputs/${inputId}/meta.yaml`,
          ),
        );
        assert.deepEqual(meta, {
          destination_id: datasetId,
          destination_type: "RUN",
          source_id: datasetId,
          source_type: "DATASET",
          tags: { "mlflow.data.context": d.context },
        });
      }
      // Every meta.yaml has MLflow's keys, and the same values where they are not ids or times.
      const volatile =
        /^(artifact_location|creation_timestamp|last_updated_timestamp|experiment_id|model_id|source_run_id|source_id|destination_id)$/;
      // (The run's own meta.yaml is the run store's business, not this test's.)
      const newIn3 = /\/(datasets|outputs|models)\//;
      for (const rel of pyTree.filter((p) => p.endsWith("meta.yaml") && newIn3.test(p))) {
        const real = (root: string, ids: { exp: string; run: string; model: string }) =>
          `${root}/${
            rel.replace("<exp>", ids.exp).replace("<run>", ids.run).replaceAll("<model>", ids.model)
          }`;
        const py = parseYaml(
          await Deno.readTextFile(
            real(`${dir}/python`, { exp: ref.experiment_id, run: ref.run_id, model: ref.model_id }),
          ),
        );
        const us = parseYaml(
          await Deno.readTextFile(
            real(`${dir}/ours`, { exp: ours.experimentId, run: ours.runId, model: ours.modelId }),
          ),
        );
        assert.deepEqual(Object.keys(us).sort(), Object.keys(py).sort(), rel);
        for (const key of Object.keys(py).filter((k) => !volatile.test(k))) {
          assert.deepEqual(us[key], py[key], `${rel}: ${key}`);
        }
      }

      // MLflow's client reads ours back; registering from models:/ sets the version's model_id.
      const version = await store.createModelVersion(
        "component-x-lstm",
        `models:/${ours.modelId}`,
        null,
      );
      assert.equal(version.modelId, ours.modelId);
      assert.equal(version.runId, ours.runId);
      const view = await pyRunView(
        `file://${dir}/ours`,
        ours.runId,
        `component-x-lstm:${version.version}`,
      );
      assertRunView(view, ours);
      assert.deepEqual(view.version, {
        model_id: ours.modelId,
        run_id: ours.runId,
        source: `models:/${ours.modelId}`,
      });
      assert.equal(
        view.models[0].tags["mlflow.modelVersions"],
        '[{"name": "component-x-lstm", "version": 1}]',
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "RestStore logs data sets and a logged model that MLflow's client reads from a server",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "logged_model_rest_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), { logFile: `${dir}/server.log` });
    try {
      const store = new RestStore({ uri: server.uri });
      const ours = await writeOurRun(store, "rest");
      // A replayed record (a spool sent twice) finishes the same model, not a second one.
      const again = await logModel(store, ours.runId, {
        recordId: RECORD_ID,
        name: "best",
        params: {},
        tags: {},
        flavors: {},
        files: {},
        step: 2,
      });
      assert.equal(again.modelId, ours.modelId);
      // Linking the model again is not an error (the server's unique constraint is not hit).
      await store.logOutputs(ours.runId, [{ modelId: ours.modelId, step: 2 }]);
      const version = await store.createModelVersion(
        "component-x-lstm",
        `models:/${ours.modelId}`,
        null,
      );
      const view = await pyRunView(server.uri, ours.runId, `component-x-lstm:${version.version}`);
      assertRunView(view, ours);
      // MLflow 3.17's SQL registry keeps no model_id on versions (Python's register_model gets
      // none either); the link is the models:/ source and the logged model's version tag.
      assert.deepEqual(view.version, {
        model_id: null,
        run_id: ours.runId,
        source: `models:/${ours.modelId}`,
      });
      assert.equal(
        view.models[0].tags["mlflow.modelVersions"],
        '[{"name": "component-x-lstm", "version": 1}]',
      );
      // The model's run metrics were logged with the run's own timestamps: one copy in history.
      const history = await store.getMetricHistory(ours.runId, "val_macro_f1");
      assert.deepEqual(history.map((m) => m.step), [1, 2]);
      const run = await store.getRun(ours.runId);
      assert.deepEqual(run.outputs, [{ modelId: ours.modelId, step: 2 }]);
      assert.deepEqual(run.inputs?.map((i) => i.tags["mlflow.data.context"]), [
        "training",
        "validation",
      ]);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
