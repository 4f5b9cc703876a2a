/**
 * Deno edge: who runs this process, for `mlflow.user` and promotion records, the way
 * MLflow's Python client finds it (`getpass.getuser()`).
 *
 * @module
 */
import { userInfo } from "node:os";

/** The environment variables Python's `getpass.getuser()` reads, in its order. */
export const USER_ENV_VARS: readonly string[] = Object.freeze([
  "LOGNAME",
  "USER",
  "LNAME",
  "USERNAME",
]);

/**
 * The user name: the first non-empty of `LOGNAME`, `USER`, `LNAME`, `USERNAME` in `env`,
 * else the account name of this process's uid (the passwd entry, through `getpwuid`),
 * else `unknown` (as MLflow's client when `getpass` fails).
 */
export function currentUser(env: Readonly<Record<string, string | undefined>>): string {
  for (const name of USER_ENV_VARS) {
    const value = env[name];
    if (value) return value;
  }
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // No passwd entry for the uid (e.g. a container's arbitrary uid) or no permission.
  }
  return "unknown";
}
