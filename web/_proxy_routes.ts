/**
 * What the `/mlflow` proxy forwards: the allow-list of MLflow endpoints, each with its checks
 * that the ids in a body are the page's own (experiments it opened, runs it created through
 * the proxy), and the artifact paths of those runs. No I/O.
 *
 * @module
 */

/** A JSON object as MLflow sends and receives it. */
export type Json = Record<string, unknown>;

/** What one allowed endpoint needs: its body kind and the checks on the page's ids. */
export interface Route {
  readonly method: string;
  /** The path after `/mlflow/api/2.0/mlflow/`. */
  readonly api: string;
  /** Query parameters forwarded (GET); the rest are dropped. */
  readonly query?: readonly string[];
  /** Refusal message when the JSON body names something not the page's; null = allowed. */
  readonly check?: (body: Json) => string | null;
  /** Remembers ids from the server's answer. */
  readonly record?: (answer: Json) => void;
}

/** A set of strings that forgets its oldest entries beyond `max` (memory stays bounded). */
export class BoundedSet {
  readonly #items = new Set<string>();
  constructor(readonly max: number) {}
  add(key: string): void {
    this.#items.delete(key);
    this.#items.add(key);
    while (this.#items.size > this.max) this.#items.delete(this.#items.values().next().value!);
  }
  has(key: string): boolean {
    return this.#items.has(key);
  }
}

/**
 * The artifact path of a PUT (after `.../mlflow-artifacts/artifacts/`) as clean segments, or
 * null when a segment is empty, `.`, `..`, or hides a separator once decoded.
 */
export function artifactSegments(rest: string): string[] | null {
  const out: string[] = [];
  for (const raw of rest.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (
      segment === "" || segment === "." || segment === ".." || /[/\\\0]/.test(segment)
    ) return null;
    out.push(segment);
  }
  return out;
}

/** `mlflow-artifacts:/<exp>/<run>/artifacts` -> `<exp>/<run>/artifacts`; null otherwise. */
function proxiedArtifactRoot(artifactUri: unknown): string | null {
  if (typeof artifactUri !== "string") return null;
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
  if (m === null) return null;
  const segments = artifactSegments(m[1].replace(/\/+$/, ""));
  return segments === null ? null : segments.join("/");
}

/**
 * The endpoints the page may call, checking bodies against, and recording answers into, the
 * page's experiments, runs and their artifact roots (`<exp>/<run>/artifacts`).
 */
export function allowedRoutes(
  experiments: BoundedSet,
  runs: BoundedSet,
  artifactRoots: BoundedSet,
): Route[] {
  const ownRun = (field: string) => (body: Json): string | null => {
    const ids = [body.run_id, body.run_uuid].filter((v) => v !== undefined);
    if (ids.length === 0) return `no ${field} in the body`;
    for (const id of ids) {
      if (typeof id !== "string" || !runs.has(id)) {
        return `run ${JSON.stringify(id)} was not created by this page`;
      }
    }
    return null;
  };
  const openedExperiment = (id: unknown): string | null =>
    typeof id === "string" && experiments.has(id)
      ? null
      : `experiment ${JSON.stringify(id)} was not opened by this page`;
  const rememberExperiment = (id: unknown) => {
    if (typeof id === "string" && id !== "") experiments.add(id);
  };

  return [
    {
      method: "GET",
      api: "experiments/get-by-name",
      query: ["experiment_name"],
      record: (a) => rememberExperiment((a.experiment as Json | undefined)?.experiment_id),
    },
    {
      method: "POST",
      api: "experiments/create",
      record: (a) => rememberExperiment(a.experiment_id),
    },
    {
      method: "POST",
      api: "runs/search",
      check: (b) => {
        const ids = b.experiment_ids;
        if (!Array.isArray(ids) || ids.length === 0) return "no experiment_ids in the body";
        for (const id of ids) {
          const problem = openedExperiment(id);
          if (problem !== null) return problem;
        }
        return null;
      },
    },
    {
      method: "POST",
      api: "runs/create",
      check: (b) => openedExperiment(b.experiment_id),
      record: (a) => {
        const info = (a.run as Json | undefined)?.info as Json | undefined;
        const id = info?.run_id ?? info?.run_uuid;
        if (typeof id !== "string" || id === "") return;
        runs.add(id);
        const root = proxiedArtifactRoot(info?.artifact_uri);
        if (root !== null) artifactRoots.add(root);
      },
    },
    { method: "POST", api: "runs/update", check: ownRun("run_id") },
    { method: "POST", api: "runs/log-batch", check: ownRun("run_id") },
  ];
}
