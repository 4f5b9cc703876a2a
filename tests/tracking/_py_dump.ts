/** Python MlflowClient view of runs: what the real MLflow sees, for assertions. */
import { pythonJson } from "../_python.ts";

/** One run as python's MlflowClient reports it. */
export interface PyRun {
  id: string;
  name: string;
  status: string;
  start: number;
  end: number | null;
  experiment_id: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** key -> [step, value (non-finite as "nan"/"inf"), timestamp] in logging order */
  history: Record<string, [number, number | string, number][]>;
  /** artifact path -> sha256 of its bytes (downloaded through MLflow) */
  artifacts: Record<string, string>;
}

const SCRIPT = `
import hashlib, json, math, os, sys, tempfile
from mlflow import MlflowClient
uri, exp_name = sys.argv[1], sys.argv[2]
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
e = c.get_experiment_by_name(exp_name)
out = []
if e is not None:
    for r in c.search_runs([e.experiment_id], order_by=["attributes.start_time ASC"]):
        rid = r.info.run_id
        hist = {}
        for k in r.data.metrics:
            hist[k] = [[m.step, m.value if math.isfinite(m.value) else str(m.value), m.timestamp]
                       for m in c.get_metric_history(rid, k)]
        arts = {}
        def walk(p):
            for a in c.list_artifacts(rid, p):
                if a.is_dir:
                    walk(a.path)
                else:
                    d = tempfile.mkdtemp()
                    local = c.download_artifacts(rid, a.path, d)
                    arts[a.path] = hashlib.sha256(open(local, "rb").read()).hexdigest()
        walk(None)
        out.append({"id": rid, "name": r.info.run_name, "status": r.info.status,
                    "start": r.info.start_time, "end": r.info.end_time,
                    "experiment_id": r.info.experiment_id, "params": r.data.params,
                    "tags": r.data.tags, "history": hist, "artifacts": arts})
print(json.dumps(out))
`;

/** Every run of experiment `name` at `uri`, oldest first. */
export function pyRuns(uri: string, name: string): Promise<PyRun[]> {
  return pythonJson<PyRun[]>(SCRIPT, {
    args: [uri, name],
    env: { MLFLOW_ALLOW_FILE_STORE: "true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION: "false" },
  });
}

/** sha256 hex of bytes, computed by python's hashlib (independent of our code). */
export function pySha256(paths: string[]): Promise<string[]> {
  return pythonJson<string[]>(
    `import hashlib, json, sys\nprint(json.dumps([hashlib.sha256(open(p, "rb").read()).hexdigest() for p in sys.argv[1:]]))`,
    { args: paths },
  );
}
