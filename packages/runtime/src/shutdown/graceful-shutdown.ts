import type { Server } from "node:http";
import { HttpDrain, type OpenWork } from "./http-drain.js";
import { type HookOutcome, runShutdownHooks, type ShutdownHook } from "./shutdown-hooks.js";
import { jsonShutdownLogger, type ShutdownLogger } from "./shutdown-logger.js";
import {
  drainWebSockets,
  openWebSockets,
  type WebSocketDrainOptions,
  type WebSocketDrainResult,
  type WebSocketServerLike,
} from "./websocket-drain.js";

/** What readiness is told at the first signal; `health()`'s answer fits. */
export interface ShutdownReadiness {
  markShuttingDown(): void;
}

/** A node:http (or https) server, or what holds one: a Fastify instance (`fastify.server`). */
export type ServerLike = Server | { server: Server };

export interface GracefulShutdownOptions {
  /** The signals that start the shutdown. Default `["SIGTERM", "SIGINT"]`; `[]` for none. */
  signals?: NodeJS.Signals[];
  /** Turned to "shutting down" (503) at the first signal. Without it, read `shuttingDown`. */
  health?: ShutdownReadiness;
  /**
   * How long the service keeps serving normally after readiness turns 503, so that load balancers
   * (Baton's router, a Kubernetes Service) take it out of rotation before any connection is
   * refused. Set it above the balancer's reaction time (probe interval × failure threshold).
   * Default 5000.
   */
  preStopMs?: number;
  /**
   * During the preStop delay, responses already carry `Connection: close`, so that keep-alive
   * clients reconnect (to another instance) one by one rather than find their connection closed
   * at the end. Default true.
   */
  closeKeepAliveDuringPreStop?: boolean;
  /**
   * From the signal to the exit, at most. What is still open then is logged and the process
   * exits 1. Keep it under the orchestrator's grace (Kubernetes: 30 s). Default 25000. Requests
   * and WebSockets still open when the hooks' timeouts (or half the time after preStop, if less)
   * are all that is left are cut, so that the hooks run all the same.
   */
  timeoutMs?: number;
  /** WebSocket servers whose clients are closed with 1001; or the servers and how. */
  websockets?: WebSocketServerLike[] | WebSocketDrainOptions;
  /** Run in order after requests and WebSockets are done, each with its own timeout. */
  hooks?: ShutdownHook[];
  /** A hook's timeout when it sets none. Default 5000. */
  hookTimeoutMs?: number;
  /** Calls `process.exit` at the end. `false` for tests and for composing: await `shutdown()`. */
  exit?: boolean;
  /**
   * A second one of these signals during the shutdown exits at once with 1 (Ctrl-C twice).
   * Other repeated signals are logged and ignored. Default `["SIGINT"]`.
   */
  forceOnSecondSignal?: NodeJS.Signals[];
  /** Default: one JSON line each on stderr. */
  logger?: ShutdownLogger;
}

/** What a shutdown did, resolved by `shutdown()`; the process exits with `exitCode`. */
export interface ShutdownReport {
  /** The signal, or the reason given to `shutdown()`. */
  reason: string;
  /** 0 when everything finished in time and every hook succeeded; 1 otherwise. */
  exitCode: 0 | 1;
  /** From the signal to the end. */
  durationMs: number;
  /** Responses finished after the signal (served during preStop and drain). */
  requestsSinceSignal: number;
  websockets: WebSocketDrainResult;
  hooks: HookOutcome[];
  /** What was still open when the drain deadline or the hard timeout cut it. */
  cut?: OpenWork;
}

/** The handle `gracefulShutdown` returns. */
export interface GracefulShutdown {
  /** True from the first signal (or `shutdown()` call) on. */
  readonly shuttingDown: boolean;
  /** Starts the shutdown (again: the same one); resolves with its report. */
  shutdown(reason?: string): Promise<ShutdownReport>;
  /** Adds a hook after the ones given, e.g. from a library the service sets up later. */
  addHook(hook: ShutdownHook): void;
  /** Stops listening for signals and following the server. */
  dispose(): void;
}

/**
 * Makes `server` shut down without failing a request: at SIGTERM or SIGINT, readiness turns 503
 * at once while the service keeps serving for `preStopMs`; then the server stops accepting,
 * idle keep-alive connections close, in-flight responses finish with `Connection: close`, and
 * WebSockets are closed with 1001 in staggered batches; then the hooks run in order; then the
 * process exits 0, or 1 with a log of what was still open if `timeoutMs` passed first.
 *
 * Express: `gracefulShutdown(app.listen(port), …)`. Fastify: `gracefulShutdown(fastify, …)` after
 * `listen()` (its `server` is used; add `{ name: "fastify", run: () => fastify.close() }` as a
 * hook for its onClose hooks).
 */
export function gracefulShutdown(
  target: ServerLike,
  options: GracefulShutdownOptions = {},
): GracefulShutdown {
  const server = "server" in target ? target.server : target;
  const log = options.logger ?? jsonShutdownLogger;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const forceOn = options.forceOnSecondSignal ?? ["SIGINT"];
  const hooks = [...(options.hooks ?? [])];
  const hookTimeoutMs = options.hookTimeoutMs ?? 5000;
  const ws: WebSocketDrainOptions = Array.isArray(options.websockets)
    ? { servers: options.websockets }
    : (options.websockets ?? { servers: [] });
  const drain = new HttpDrain(server);
  let running: Promise<ShutdownReport> | undefined;

  const onSignal = (signal: NodeJS.Signals) => {
    if (!running) return void handle.shutdown(signal);
    if (forceOn.includes(signal)) {
      log.error(`${signal} again: exiting now`, { ...open() });
      if (options.exit !== false) process.exit(1);
      return;
    }
    log.warn(`${signal} again: already shutting down`, { ...open() });
  };
  for (const s of signals) process.on(s, onSignal);

  const open = (): OpenWork => ({ ...drain.open(), websockets: openWebSockets(ws.servers) });

  async function run(reason: string): Promise<ShutdownReport> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 25_000;
    const hardDeadline = started + timeoutMs;
    const preStopMs = Math.max(0, Math.min(options.preStopMs ?? 5000, timeoutMs));
    // The hooks keep their time: a drain that hangs is cut early enough for them to run, though
    // never before half the time after preStop is up.
    const hooksBudget = hooks.reduce((sum, h) => sum + (h.timeoutMs ?? hookTimeoutMs), 0);
    const drainDeadline = hardDeadline - Math.min(hooksBudget, (timeoutMs - preStopMs) / 2);
    const report: ShutdownReport = {
      reason,
      exitCode: 0,
      durationMs: 0,
      requestsSinceSignal: 0,
      websockets: { closed: 0, terminated: 0 },
      hooks: [],
    };
    const finish = (code: 0 | 1): ShutdownReport => {
      report.exitCode = code;
      report.durationMs = Date.now() - started;
      report.requestsSinceSignal = drain.served;
      return report;
    };

    let hardTimer: NodeJS.Timeout | undefined;
    const hardTimeout = new Promise<ShutdownReport>((resolve) => {
      hardTimer = setTimeout(() => {
        report.cut = open();
        log.error(`shutdown timed out after ${timeoutMs} ms; still open`, { ...report.cut });
        resolve(finish(1));
      }, timeoutMs);
    });

    const sequence = async (): Promise<ShutdownReport> => {
      log.info(`${reason}: shutting down; readiness is 503, serving on for ${preStopMs} ms`, {
        reason,
        preStopMs,
        timeoutMs,
        ...open(),
      });
      drain.countFromNow();
      options.health?.markShuttingDown();
      if (options.closeKeepAliveDuringPreStop !== false) drain.preferClose();
      if (preStopMs > 0) await sleep(preStopMs);

      log.info("no longer accepting connections; finishing requests in flight", { ...open() });
      const [drained, sockets] = await Promise.all([
        untilDeadline(drain.stop(), drainDeadline),
        drainWebSockets(ws, drainDeadline),
      ]);
      report.websockets = sockets;
      if (sockets.closed + sockets.terminated > 0)
        log.info(`WebSockets closed with 1001: ${sockets.closed}, terminated: ${sockets.terminated}`, {
          ...sockets,
        });
      let cut = sockets.terminated > 0;
      if (!drained) {
        report.cut = open();
        log.error("drain deadline passed; closing what is still open", { ...report.cut });
        drain.destroyAll();
        cut = true;
      }
      report.hooks = await runShutdownHooks(hooks, hookTimeoutMs, log);
      return finish(cut || report.hooks.some((h) => !h.ok) ? 1 : 0);
    };

    const failed = (err: unknown) => {
      // A bug of ours or a throwing health object: the process must still end.
      log.error(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`, { ...open() });
      return finish(1);
    };
    const done = await Promise.race([sequence().catch(failed), hardTimeout]);
    clearTimeout(hardTimer);
    log.info(`shutdown done in ${done.durationMs} ms, exit code ${done.exitCode}`, {
      exitCode: done.exitCode,
      durationMs: done.durationMs,
      requestsSinceSignal: done.requestsSinceSignal,
    });
    if (options.exit !== false) process.exit(done.exitCode);
    return done;
  }

  const handle: GracefulShutdown = {
    get shuttingDown() {
      return running !== undefined;
    },
    shutdown(reason = "shutdown requested") {
      running ??= run(reason);
      return running;
    },
    addHook(hook) {
      hooks.push(hook);
    },
    dispose() {
      for (const s of signals) process.off(s, onSignal);
      drain.dispose();
    },
  };
  return handle;
}

/** Whether `work` finished before `deadline` (epoch ms). */
async function untilDeadline(work: Promise<void>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
