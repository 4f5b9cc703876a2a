/**
 * Where a run's code comes from, as MLflow's Python client tags it: the git branch and the
 * repository URL of the checkout (`mlflow.source.git.branch`, `mlflow.source.git.repoURL`;
 * the commit is `run_tracking_deno.ts`'s), and the entry point as invoked
 * (`mlflow.source.name` = Python's `sys.argv[0]`).
 *
 * @module
 */
import { redactUri } from "../tracking/tracking_uri.ts";

/** The toolkit's own checkout (where this file lives). */
const CHECKOUT = new URL("../..", import.meta.url).pathname;

async function git(args: string[], cwd: string): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd,
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return out.success && text !== "" ? text : null;
  } catch {
    return null;
  }
}

/**
 * The checkout's branch (null when detached, as MLflow's `active_branch` is) and the URL of
 * its `origin` remote, else its first remote, without credentials.
 */
export async function gitBranchAndRepoUrl(
  cwd: string = CHECKOUT,
): Promise<{ branch: string | null; repoUrl: string | null }> {
  const branch = await git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd);
  let repoUrl = await git(["config", "--get", "remote.origin.url"], cwd);
  if (repoUrl === null) {
    const first = (await git(["remote"], cwd))?.split("\n")[0];
    if (first) repoUrl = await git(["config", "--get", `remote.${first}.url`], cwd);
  }
  return { branch, repoUrl: repoUrl === null ? null : redactUri(repoUrl) };
}

/**
 * The program as invoked, like Python's `sys.argv[0]`: the main module's path relative to the
 * working directory when it lies inside it (`cli/train.ts` for `deno task train`), else
 * absolute.
 */
export function invokedSourceName(
  mainModule: string = Deno.mainModule,
  cwd: string = Deno.cwd(),
): string {
  if (!mainModule.startsWith("file://")) return mainModule;
  const path = decodeURIComponent(new URL(mainModule).pathname);
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  return path.startsWith(base) ? path.slice(base.length) : path;
}
