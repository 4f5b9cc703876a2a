/**
 * The demo server's secret token: the header that carries it, how a fresh one is made, and
 * the constant-time comparison that checks it (the page as served and the `/mlflow` proxy).
 *
 * @module
 */

/** The request header that carries the server's secret token. */
export const DEMO_TOKEN_HEADER = "x-demo-token";

/** True when `given` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** A fresh 256-bit secret, base64url. */
export function newDemoToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}
