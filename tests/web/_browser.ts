/**
 * Test helper: headless Debian Chromium with a software WebGPU adapter, driven by
 * playwright-core (never `playwright install`: the system binary is used).
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian's chromium lives (`apt-get install -y chromium`). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The flags from ENVIRONMENT.md, plus a software WebGPU adapter. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** True (and a loud warning) when chromium is missing: the e2e tests then skip. */
export async function skipUnlessChromium(): Promise<boolean> {
  try {
    await Deno.stat(CHROMIUM_PATH);
    return false;
  } catch {
    console.warn(
      `\n*** SKIPPING browser tests: ${CHROMIUM_PATH} not found. ` +
        "Install it with `apt-get install -y chromium` (.ci/run does). ***\n",
    );
    return true;
  }
}

/** A page in a fresh profile, with its console captured for failure reports. */
export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console lines and page errors, in order. */
  readonly console: string[];
  /** Where the profile and downloads live. */
  readonly dir: string;
  close(): Promise<void>;
}

/**
 * Launches headless chromium with a fresh `--user-data-dir` under `dir`; `webgpu: false`
 * leaves out `--enable-unsafe-webgpu` (no adapter: the page must offer wasm).
 */
export async function openBrowser(
  dir: string,
  options: { webgpu?: boolean } = {},
): Promise<BrowserSession> {
  const profile = `${dir}/profile`;
  await Deno.mkdir(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS.filter((a) => options.webgpu !== false || a !== "--enable-unsafe-webgpu"),
    acceptDownloads: true,
    viewport: { width: 1200, height: 1400 },
  });
  // Under `deno task test --parallel` on 2 cores, loading the page alone can take a while.
  context.setDefaultTimeout(120_000);
  const page = context.pages()[0] ?? await context.newPage();
  const lines: string[] = [];
  page.on("console", (message) => lines.push(`[${message.type()}] ${message.text()}`));
  page.on("pageerror", (error) => lines.push(`[pageerror] ${error.message}`));
  return {
    context,
    page,
    console: lines,
    dir,
    async close() {
      await context.close();
    },
  };
}

/**
 * Waits until the demo page's training ends (`componentXDemo.status` is "done", "error"
 * or "stopped") and returns `componentXDemo`, typed as the caller reads it.
 */
export async function waitForTrainingEnd<T>(
  page: Page,
  options: { timeout: number; polling?: number },
): Promise<T> {
  await page.waitForFunction(
    () => {
      const s = (globalThis as unknown as { componentXDemo: { status: string } }).componentXDemo
        .status;
      return s === "done" || s === "error" || s === "stopped";
    },
    null,
    { timeout: options.timeout, polling: options.polling ?? 500 },
  );
  return await page.evaluate(() =>
    (globalThis as unknown as { componentXDemo: unknown }).componentXDemo
  ) as T;
}
