/**
 * argparse's prefix abbreviations (`allow_abbrev=True`, its default), for the commands that
 * replace the PyTorch pipeline's scripts: `--epoch 3` means `--epochs 3` when exactly one
 * flag starts with `--epoch`; an exact name always wins; a prefix of several flags is an
 * error naming them, as argparse's "ambiguous option".
 *
 * @module
 */

/**
 * `args` with every unambiguous flag prefix replaced by the full flag (`--epoch=3` keeps its
 * value). `valueFlags` are the flags that take a value (their next token is never read as
 * a flag); `flags` every long flag, without `--`. Tokens after a bare `--` are left alone.
 *
 * @throws {TypeError} "ambiguous option: --mlflow-r could match --mlflow-run-name, ..."
 */
export function expandAbbreviations(
  args: readonly string[],
  flags: readonly string[],
  valueFlags: readonly string[],
): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (!token.startsWith("--")) {
      out.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const name = token.slice(2, eq < 0 ? undefined : eq);
    let full = name;
    if (!flags.includes(name)) {
      const matches = flags.filter((f) => f.startsWith(name));
      if (matches.length > 1 && name !== "") {
        throw new TypeError(
          `ambiguous option: --${name} could match ${matches.map((m) => `--${m}`).join(", ")}`,
        );
      }
      if (matches.length === 1 && name !== "") full = matches[0];
    }
    out.push(`--${full}${eq < 0 ? "" : token.slice(eq)}`);
    if (eq < 0 && valueFlags.includes(full) && i + 1 < args.length) out.push(args[++i]);
  }
  return out;
}
