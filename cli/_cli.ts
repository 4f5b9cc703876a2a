/**
 * Helpers shared by the CLI commands.
 *
 * @module
 */

/**
 * Runs a command's `main` with `Deno.args` and exits with its status; an error thrown by
 * `main` is printed as `error: <message>` and exits 1.
 */
export async function runMain(main: (args: string[]) => Promise<number>): Promise<never> {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

/**
 * The error for flags that `parseArgs` rejected: "Cannot parse the <command> flags:
 * <reason>; allowed flags: <flags> (see --help)", with the rejection as its cause.
 */
export function flagsError(command: string, cause: unknown, flags: readonly string[]): TypeError {
  return new TypeError(
    `Cannot parse the ${command} flags: ${(cause as Error).message}; allowed flags: ${
      flags.join(", ")
    } (see --help)`,
    { cause },
  );
}
