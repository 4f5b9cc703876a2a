/** Runs a CLI `main()` and captures what it prints. */

/**
 * Runs `fn` (a CLI `main()`) with console.log / console.error captured; returns its exit
 * code and the printed lines joined by newlines.
 */
export async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await fn(), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
