import type { ShutdownLogger } from "./shutdown-logger.js";

/** Work to do once requests and WebSockets are done: close a database pool, flush a queue. */
export interface ShutdownHook {
  /** As it appears in the log and the report: "postgres pool", "outbox flush". */
  name: string;
  /** How long it may take; after that it is abandoned and the next hook runs. */
  timeoutMs?: number;
  /** Does the work; the signal aborts at the timeout, so that a well-behaved hook stops. */
  run(signal: AbortSignal): unknown;
}

/** How one hook went. */
export interface HookOutcome {
  name: string;
  ok: boolean;
  ms: number;
  /** Why it failed: its error's message, or that it timed out. */
  error?: string;
}

/**
 * Runs `hooks` one after the other, each bounded by its own timeout (or `defaultTimeoutMs`); one
 * that throws or hangs is logged and the next one runs all the same.
 */
export async function runShutdownHooks(
  hooks: readonly ShutdownHook[],
  defaultTimeoutMs: number,
  log: ShutdownLogger,
): Promise<HookOutcome[]> {
  const outcomes: HookOutcome[] = [];
  for (const hook of hooks) {
    const started = Date.now();
    const timeoutMs = hook.timeoutMs ?? defaultTimeoutMs;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => hook.run(abort.signal))(),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            abort.abort();
            reject(new Error(`timed out after ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]);
      outcomes.push({ name: hook.name, ok: true, ms: Date.now() - started });
      log.info(`shutdown hook "${hook.name}" done`, { hook: hook.name, ms: Date.now() - started });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      outcomes.push({ name: hook.name, ok: false, ms: Date.now() - started, error });
      log.error(`shutdown hook "${hook.name}" failed: ${error}; going on with the next`, {
        hook: hook.name,
        ms: Date.now() - started,
      });
    } finally {
      clearTimeout(timer);
    }
  }
  return outcomes;
}
