import type { CheckResult } from "./check-result.js";
import type { HealthCheck } from "./health-check.js";

/**
 * One check with its timeout, a cache and coalescing: callers within `cacheMs` of the last run's
 * end get its result, and callers while a run is going on share that run. However many probes
 * arrive, the dependency sees at most one check per cache period.
 */
export class CachedCheck {
  private last: { result: CheckResult; at: number } | undefined;
  private running: Promise<CheckResult> | undefined;
  /** Runs started, for tests and metrics. */
  runs = 0;

  constructor(
    readonly check: HealthCheck,
    private readonly defaultTimeoutMs: number,
    private readonly cacheMs: number,
  ) {}

  get critical(): boolean {
    return this.check.critical !== false;
  }

  /** The latest result, fresh enough, or the one of a run shared with the other callers. */
  result(): Promise<CheckResult> {
    if (this.running) return this.running;
    if (this.last && Date.now() - this.last.at < this.cacheMs) return Promise.resolve(this.last.result);
    this.running = this.run().then((result) => {
      this.last = { result, at: Date.now() };
      this.running = undefined;
      return result;
    });
    return this.running;
  }

  private async run(): Promise<CheckResult> {
    this.runs++;
    const { name } = this.check;
    const critical = this.critical;
    const timeoutMs = this.check.timeoutMs ?? this.defaultTimeoutMs;
    const abort = new AbortController();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const latency = () => Math.round((performance.now() - started) * 10) / 10;
    try {
      const out = await Promise.race([
        // A check that throws synchronously fails like one that rejects.
        (async () => this.check.run(abort.signal))(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            abort.abort(new Error(`timed out after ${timeoutMs} ms`));
            reject(new Error(`timed out after ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]);
      const details = out?.details;
      return {
        name,
        status: out?.degraded ? "degraded" : "ok",
        critical,
        latencyMs: latency(),
        ...(out?.degraded ? { error: out.degraded } : {}),
        ...(details ? { details } : {}),
        checkedAt: new Date().toISOString(),
      };
    } catch (err) {
      const details = (err as { details?: unknown }).details;
      return {
        name,
        status: "failed",
        critical,
        latencyMs: latency(),
        error: errorText(err),
        ...(details && typeof details === "object" ? { details: details as Record<string, unknown> } : {}),
        checkedAt: new Date().toISOString(),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** An error's message; AggregateError (node-postgres on refused IPv4 and IPv6) lists its causes. */
function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0 && !err.message)
    return err.errors.map(errorText).join("; ");
  if (err instanceof Error) return err.message || (err as { code?: string }).code || err.name;
  return String(err);
}
