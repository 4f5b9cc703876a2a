/**
 * Lets the host's event loop run during long synchronous work, so that a Ctrl-C (Deno
 * delivers signals when it polls timers and I/O) or a click on Stop is seen within a step.
 *
 * @module
 */

/** At most one yield per this many milliseconds of work (a yield costs ~0.1-3 ms). */
export const YIELD_INTERVAL_MS = 100;

/**
 * Resolves after the event loop has run once: a timer in Deno (whose poll delivers
 * signals), a `MessageChannel` message elsewhere (browsers throttle timers in background
 * tabs, not messages).
 */
export function yieldToEventLoop(): Promise<void> {
  if ("Deno" in globalThis || typeof MessageChannel === "undefined") {
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * A yield that runs only when `YIELD_INTERVAL_MS` have passed since the last one, then
 * reports whether `signal` is aborted. Without a signal it never yields.
 */
export function abortCheck(signal: AbortSignal | undefined): () => Promise<boolean> {
  let last = performance.now();
  return async () => {
    if (signal === undefined) return false;
    if (performance.now() - last >= YIELD_INTERVAL_MS) {
      await yieldToEventLoop();
      last = performance.now();
    }
    return signal.aborted;
  };
}
