import type { ModelVersionAnnotator } from "./tracking_review_store.ts";

/**
 * Sets a model version's tags (`model-versions/set-tag`) and description
 * (`model-versions/update`) on an MLflow server. `headers` carries the caller's auth.
 */
export class RestVersionAnnotator implements ModelVersionAnnotator {
  #uri: string;
  #fetch: typeof fetch;
  #headers: Record<string, string>;

  /** `uri`: the server, e.g. `http://127.0.0.1:5000`. */
  constructor(
    uri: string,
    options: { fetch?: typeof fetch; headers?: Record<string, string> } = {},
  ) {
    this.#uri = uri.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? fetch;
    this.#headers = options.headers ?? {};
  }

  async #post(method: "POST" | "PATCH", endpoint: string, body: unknown): Promise<void> {
    const res = await this.#fetch(`${this.#uri}/api/2.0/mlflow/${endpoint}`, {
      method,
      headers: { ...this.#headers, "Content-Type": "application/json" },
      body: JSON.stringify(body),
      // Credentials and data go to the configured server only: never follow a redirect.
      redirect: "manual",
    });
    if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400)) {
      await res.body?.cancel();
      throw new Error(
        `Cannot ${method} model-versions/${endpoint.split("/").pop()} on ${this.#uri}: the ` +
          `server redirects (HTTP ${res.status}); credentials and data are sent only to the ` +
          "configured tracking URI",
      );
    }
    if (!res.ok) {
      throw new Error(
        `Cannot ${method} model-versions/${endpoint.split("/").pop()} on ${this.#uri}: ` +
          `HTTP ${res.status} ${(await res.text()).slice(0, 300)}`,
      );
    }
    await res.body?.cancel();
  }

  async annotate(
    model: string,
    version: string,
    tags: Record<string, string>,
    description: string,
  ): Promise<void> {
    for (const [key, value] of Object.entries(tags)) {
      await this.#post("POST", "model-versions/set-tag", { name: model, version, key, value });
    }
    if (description !== "") {
      await this.#post("PATCH", "model-versions/update", { name: model, version, description });
    }
  }
}
