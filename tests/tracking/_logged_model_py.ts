/**
 * Python's side of the logged-model and dataset tests: MLflow's own client writes a
 * reference run, and reads back what the toolkit wrote.
 */
import { pythonJson } from "../_python.ts";

const ENV = { MLFLOW_ALLOW_FILE_STORE: "true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false" };

/** The data sets both sides log: name, digest and context. */
export const DATASETS = [
  { name: "train_sequences", digest: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e", context: "training" },
  { name: "val_sequences", digest: "aa1e2d3c4b5a69788796a5b4c3d2e1f00f1e", context: "validation" },
] as const;

/** Schema and profile JSON both sides log (as MLflow's numpy data sets write them). */
export const SCHEMA = JSON.stringify({
  mlflow_tensorspec: {
    features: JSON.stringify([
      { name: "sequences", type: "tensor", "tensor-spec": { dtype: "float32", shape: [-1, 8, 3] } },
    ]),
    targets: null,
  },
});
export const PROFILE = JSON.stringify({ rows: 4, window: 8, features: 3 });

const WRITE_REFERENCE = `
import json, os, sys, tempfile, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, LoggedModelStatus, Metric
out, sys.stdout = sys.stdout, sys.stderr
root, datasets, schema, profile = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
c = MlflowClient(tracking_uri="file://" + root)
exp = c.create_experiment("reference")
run = c.create_run(exp, run_name="reference-run")
rid = run.info.run_id
c.log_param(rid, "lr", "0.001")
for step in (1, 2):
    c.log_metric(rid, "val_macro_f1", 0.3 + step / 10, step=step)
c.log_inputs(rid, datasets=[DatasetInput(
    Dataset(name=d["name"], digest=d["digest"], source_type="local",
            source=json.dumps({"uri": "/data/" + d["name"] + ".npz"}), schema=schema, profile=profile),
    tags=[InputTag("mlflow.data.context", d["context"])]) for d in datasets])
m = c.create_logged_model(exp, name="best", source_run_id=rid, params={"lr": "0.001"},
    tags={"mlflow.user": "me", "mlflow.source.name": "cli/train.ts", "mlflow.source.type": "LOCAL",
          "toolkit.logged_model_record": "any"})
c.log_outputs(rid, [LoggedModelOutput(m.model_id, step=2)])
hist = [h for h in c.get_metric_history(rid, "val_macro_f1") if h.step == 2]
c.log_batch(rid, metrics=[Metric(h.key, h.value, h.timestamp, h.step, model_id=m.model_id, run_id=rid) for h in hist])
d = tempfile.mkdtemp()
open(os.path.join(d, "MLmodel"), "w").write("flavors: {}\\n")
open(os.path.join(d, "weights.safetensors"), "wb").write(b"123")
c.log_model_artifacts(m.model_id, d)
c.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
c.set_terminated(rid)
print(json.dumps({"experiment_id": exp, "run_id": rid, "model_id": m.model_id}), file=out)
`;

/** Ids of the reference run Python wrote into the file store at `root`. */
export function writeReferenceRun(
  root: string,
): Promise<{ experiment_id: string; run_id: string; model_id: string }> {
  return pythonJson(WRITE_REFERENCE, {
    args: [root, JSON.stringify(DATASETS), SCHEMA, PROFILE],
    env: ENV,
  });
}

/** What MLflow's client reads back of a run with data sets and a logged model. */
export interface PyRunView {
  inputs: { name: string; digest: string; source: string; profile: string; context: string }[];
  outputs: { model_id: string; step: number }[];
  models: {
    model_id: string;
    name: string;
    status: string;
    source_run_id: string;
    params: Record<string, string>;
    tags: Record<string, string>;
    metrics: [string, number, number, string][];
    artifacts: string[];
    flavors: Record<string, unknown>;
  }[];
  version: { model_id: string | null; run_id: string; source: string } | null;
}

const READ = `
import json, os, sys, tempfile, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.models import Model
out, sys.stdout = sys.stdout, sys.stderr
uri, rid, registered = sys.argv[1], sys.argv[2], sys.argv[3]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient()
r = c.get_run(rid)
inputs = [{"name": d.dataset.name, "digest": d.dataset.digest, "source": d.dataset.source,
           "profile": d.dataset.profile,
           "context": {t.key: t.value for t in d.tags}.get("mlflow.data.context")}
          for d in r.inputs.dataset_inputs]
outputs = [{"model_id": o.model_id, "step": o.step} for o in (r.outputs.model_outputs if r.outputs else [])]
models = []
for m in mlflow.search_logged_models(experiment_ids=[r.info.experiment_id],
                                     filter_string=f"source_run_id = '{rid}'", output_format="list"):
    local = mlflow.artifacts.download_artifacts(f"models:/{m.model_id}", dst_path=tempfile.mkdtemp())
    models.append({"model_id": m.model_id, "name": m.name, "status": str(m.status),
                   "source_run_id": m.source_run_id, "params": m.params, "tags": m.tags,
                   "metrics": sorted([x.key, x.value, x.step, x.run_id] for x in m.metrics),
                   "artifacts": sorted(os.listdir(local)),
                   "flavors": Model.load(os.path.join(local, "MLmodel")).flavors})
version = None
if registered:
    name, v = registered.split(":")
    mv = c.get_model_version(name, v)
    version = {"model_id": mv.model_id, "run_id": mv.run_id, "source": mv.source}
print(json.dumps({"inputs": sorted(inputs, key=lambda i: i["name"]), "outputs": outputs,
                  "models": models, "version": version}), file=out)
`;

/** MLflow's view of run `runId` at `uri`; `registered` = "name:version" to read too. */
export function pyRunView(uri: string, runId: string, registered = ""): Promise<PyRunView> {
  return pythonJson<PyRunView>(READ, { args: [uri, runId, registered], env: ENV });
}
