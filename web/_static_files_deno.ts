/**
 * The demo's files from `web/`: the page (with its token), the style sheet, and the headers
 * every served file carries (no caching, cross-origin isolation).
 *
 * @module
 */

/** The `web/` folder. */
export const WEB_DIR = new URL("./", import.meta.url);

/** Files of `web/` the server hands out (the page itself is served apart), and their types. */
export const STATIC_FILES: Readonly<Record<string, string>> = {
  "/style.css": "text/css; charset=utf-8",
};

/** The page as served: `web/index.html` with the proxy token in a `<meta>` tag. */
export async function pageHtml(token: string): Promise<string> {
  const html = await Deno.readTextFile(new URL("index.html", WEB_DIR));
  if (!html.includes("<head>")) {
    throw new SyntaxError("Cannot serve web/index.html: it has no <head> tag for the token");
  }
  return html.replace("<head>", `<head>\n    <meta name="demo-token" content="${token}">`);
}

/**
 * Cross-origin isolation for the page and everything it loads (all same-origin): it gets
 * SharedArrayBuffer, so the CPU kernels use every core the browser reports.
 */
export const CROSS_ORIGIN_ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
} as const;

/** Streams the file at `path`: its type, never cached, cross-origin isolated; 404 if missing. */
export async function serveFile(path: string, contentType: string): Promise<Response> {
  try {
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, {
      headers: {
        "content-type": contentType,
        "cache-control": "no-store",
        ...CROSS_ORIGIN_ISOLATION,
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("Not Found", { status: 404 });
    throw error;
  }
}
