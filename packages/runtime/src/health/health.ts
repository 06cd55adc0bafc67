import type { IncomingMessage, ServerResponse } from "node:http";
import { CachedCheck } from "./cached-check.js";
import type { CheckResult, HealthAnswer } from "./check-result.js";
import type { HealthCheck } from "./health-check.js";

/** Where the three endpoints are served. */
export interface HealthPaths {
  /** Liveness: the process works (no dependency is checked). Default "/livez". */
  live: string;
  /** Readiness: send it traffic. Default "/readyz". */
  ready: string;
  /** Startup: it has finished starting. Default "/startupz". */
  startup: string;
}

export interface HealthOptions {
  /** The dependencies readiness checks. */
  checks?: HealthCheck[];
  /** Endpoint paths; Kubernetes' own names by default (`/livez`, `/readyz`, `/startupz`). */
  paths?: Partial<HealthPaths>;
  /**
   * How long a check's result is reused (from the end of its run). Concurrent probes share one
   * run in any case. Default 1000; 0 runs the checks for every probe not overlapping another.
   */
  cacheMs?: number;
  /**
   * A check's timeout when it sets none. Default 1000: Kubernetes' default probe timeout, so the
   * prober gets the JSON saying which check is slow rather than its own timeout. Behind Baton's
   * router (probes time out at 500 ms) set it lower.
   */
  timeoutMs?: number;
  /**
   * When the service counts as started: "first-ready" (default), at the first readiness run whose
   * critical checks pass (a probe of `/startupz` or `/readyz` runs them); "manual", when
   * `markStarted()` is called (after migrations, cache warm-up). Readiness is 503 "starting" until
   * then either way.
   */
  startup?: "first-ready" | "manual";
}

/** Liveness, readiness and startup for one service; `health(options)` makes one. */
export interface Health {
  readonly paths: HealthPaths;
  /** "starting", "running" or "shutting down". */
  readonly state: "starting" | "running" | "shutting down";
  /** Answers a GET or HEAD of one of the three paths; false (untouched) for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Readiness: 503 while starting, when a critical check fails, and during shutdown. */
  readiness(): Promise<HealthAnswer>;
  /** Liveness: 200 while the event loop answers, during shutdown too (do not restart a drain). */
  liveness(): HealthAnswer;
  /** Startup: 503 until started, then 200 for good. */
  startup(): Promise<HealthAnswer>;
  /** The service has started (with `startup: "manual"`; harmless otherwise). */
  markStarted(): void;
  /** Readiness turns 503 "shutting down" for good; `gracefulShutdown` calls it at the signal. */
  markShuttingDown(): void;
  /** How many times each check has run, by name (cache and coalescing at work). */
  runs(): Record<string, number>;
}

/**
 * Serves liveness, readiness and startup endpoints on Kubernetes' conventions. Each check runs
 * with its own timeout; a failed `critical` one (the default) makes readiness 503, a failed
 * non-critical one leaves it 200 `degraded`; results are cached for `cacheMs` and probes that
 * arrive together share one run, so a storm of probes is not a storm of database queries. The
 * JSON answer lists every check with its status, latency, error and details.
 *
 * node:http: `if (h.handle(req, res)) return;` first in the request handler. Express:
 * `app.use(expressHealth(h))`. Fastify: `fastify.register(fastifyHealth(h))`.
 */
export function health(options: HealthOptions = {}): Health {
  const paths: HealthPaths = { live: "/livez", ready: "/readyz", startup: "/startupz", ...options.paths };
  const cacheMs = options.cacheMs ?? 1000;
  const checks = (options.checks ?? []).map((c) => new CachedCheck(c, options.timeoutMs ?? 1000, cacheMs));
  const names = new Set<string>();
  for (const c of checks) {
    if (names.has(c.check.name)) throw new Error(`health: two checks are named "${c.check.name}"`);
    names.add(c.check.name);
  }
  let started = false;
  let shuttingDown = false;

  const runChecks = async (): Promise<{ results: CheckResult[]; failed: boolean; degraded: boolean }> => {
    const results = await Promise.all(checks.map((c) => c.result()));
    return {
      results,
      failed: results.some((r) => r.critical && r.status === "failed"),
      degraded: results.some((r) => r.status !== "ok"),
    };
  };

  const h: Health = {
    paths,
    get state() {
      return shuttingDown ? "shutting down" : started ? "running" : "starting";
    },
    async readiness() {
      if (shuttingDown) return { statusCode: 503, body: { status: "shutting down", checks: [] } };
      const { results, failed, degraded } = await runChecks();
      if (shuttingDown) return { statusCode: 503, body: { status: "shutting down", checks: results } };
      if (!started && !failed && options.startup !== "manual") started = true;
      if (!started) return { statusCode: 503, body: { status: "starting", checks: results } };
      if (failed) return { statusCode: 503, body: { status: "not ready", checks: results } };
      return { statusCode: 200, body: { status: degraded ? "degraded" : "ready", checks: results } };
    },
    liveness() {
      return { statusCode: 200, body: { status: "live", checks: [] } };
    },
    async startup() {
      if (!started && options.startup !== "manual" && !shuttingDown) await h.readiness();
      return started
        ? { statusCode: 200, body: { status: "started", checks: [] } }
        : { statusCode: 503, body: { status: "starting", checks: [] } };
    },
    markStarted() {
      started = true;
    },
    markShuttingDown() {
      shuttingDown = true;
    },
    runs() {
      return Object.fromEntries(checks.map((c) => [c.check.name, c.runs]));
    },
    handle(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const path = (req.url ?? "/").split("?")[0];
      const answer =
        path === paths.ready
          ? h.readiness()
          : path === paths.live
            ? Promise.resolve(h.liveness())
            : path === paths.startup
              ? h.startup()
              : undefined;
      if (!answer) return false;
      sendHealthAnswer(req, res, answer);
      return true;
    },
  };
  return h;
}

/** Writes an answer as JSON (no body for HEAD); one that fails to come is a 503 saying why. */
export function sendHealthAnswer(
  req: IncomingMessage,
  res: ServerResponse,
  answer: HealthAnswer | Promise<HealthAnswer>,
): void {
  Promise.resolve(answer).then(
    (a) => send(req, res, a),
    (err: Error) => send(req, res, { statusCode: 503, body: { status: "not ready", checks: [] } }, err),
  );
}

function send(req: IncomingMessage, res: ServerResponse, answer: HealthAnswer, err?: Error): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(err ? { ...answer.body, error: err.message } : answer.body);
  res.writeHead(answer.statusCode, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    // A probe must see the service as it is now, never a proxy's copy.
    "cache-control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : text);
}
