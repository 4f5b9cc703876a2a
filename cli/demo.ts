/**
 * `deno task demo`: serves the in-browser training demo on a loopback port.
 *
 * @module
 */
import { parseArgs } from "#args";
import { DEMO_LOOPBACK_HOSTS, startDemoServer } from "../web/server_deno.ts";
import { authorizationHeader, credentialsFromEnv } from "../src/tracking/rest_transport.ts";
import { parseTrackingUri } from "../src/tracking/tracking_uri.ts";
import { flagsError } from "./_cli.ts";

const HELP = `deno task demo [flags]

Serves the in-browser training demo (web/) on a loopback port and prints its URL. The page
trains the same LSTM core as \`deno task train\` on WebGPU (or wasm) inside the browser.

Flags:
  --port N                     TCP port to listen on; 0 picks a free one (default 8000)
  --host HOST                  loopback host to bind: ${DEMO_LOOPBACK_HOSTS.join(", ")}
                               (default 127.0.0.1)
  --mlflow-tracking-uri URI    http(s):// MLflow server that the page may log runs to,
                               through the same-origin proxy /mlflow/... (default
                               $MLFLOW_TRACKING_URI when it is http(s), else disabled).
                               Credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD
                               (Basic, wins) or MLFLOW_TRACKING_TOKEN (Bearer) and are
                               added by the server; the page never sees them.
  --max-upload-mb N            largest artifact the page may upload through the proxy, in
                               MiB (default 256); larger uploads are refused (413)
  --source-map                 development: bundle unminified with a linked source map
                               (both name local paths; default off)
  -h, --help                   print this help

Open the printed URL in a browser with WebGPU (Chrome/Edge 113+; Chromium on Linux may need
--enable-unsafe-webgpu). The URL carries an access token: the page is served only with it,
and the /mlflow proxy answers only the page (see SECURITY.md). Stop with Ctrl-C.
`;

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new RangeError(
      `Cannot use --port ${
        JSON.stringify(value)
      }: expected an integer 0..65535 (0 = any free port)`,
    );
  }
  return port;
}

/** `MLFLOW_TRACKING_URI` when it names a tracking server (a folder cannot be proxied), else "". */
function serverFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  const uri = env.MLFLOW_TRACKING_URI ?? "";
  return uri !== "" && parseTrackingUri(uri, Deno.cwd()).kind === "server" ? uri : "";
}

function parseMaxUploadMb(value: string): number {
  const mb = Number(value);
  if (!/^\d+$/.test(value) || mb < 1) {
    throw new RangeError(
      `Cannot use --max-upload-mb ${JSON.stringify(value)}: expected a whole number of MiB >= 1`,
    );
  }
  return mb * 1024 * 1024;
}

const FLAGS = [
  "--port",
  "--host",
  "--mlflow-tracking-uri",
  "--max-upload-mb",
  "--source-map",
  "--help",
];

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        "mlflow-tracking-uri": { type: "string" },
        "max-upload-mb": { type: "string", default: "256" },
        "source-map": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (cause) {
    throw flagsError("demo", cause, FLAGS);
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const env = Deno.env.toObject();
  const trackingUri = values["mlflow-tracking-uri"] ?? serverFromEnv(env);
  const credentials = credentialsFromEnv(env);
  const port = parsePort(values.port!);
  const maxUploadBytes = parseMaxUploadMb(values["max-upload-mb"]!);
  // Ctrl-C or SIGTERM at any point (bundling included) stops the server and removes its
  // temporary bundle folder before the process exits.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, onSignal);
  let server;
  try {
    server = await startDemoServer({
      port,
      host: values.host!,
      mlflowTrackingUri: trackingUri,
      mlflowAuthorization: trackingUri && credentials
        ? authorizationHeader(credentials)
        : undefined,
      maxUploadBytes,
      sourceMap: values["source-map"],
      signal: stop.signal,
      log: (line) => console.error(line),
    });
  } catch (error) {
    if (stop.signal.aborted) return 0; // stopped while starting; already cleaned up
    throw error;
  }
  console.log(`Component X demo: ${server.url}`);
  await server.finished;
  await server.close();
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
