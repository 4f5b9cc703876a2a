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

/**
 * A flag's value as an integer >= `min`: plain decimal digits, no sign or spaces, within
 * the safe-integer range. Otherwise a `RangeError`
 * "Cannot use --<flag> "<value>": expected an integer >= <min>".
 */
export function integerFlag(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(
      `Cannot use --${flag} ${JSON.stringify(value)}: expected an integer >= ${min}`,
    );
  }
  return n;
}
