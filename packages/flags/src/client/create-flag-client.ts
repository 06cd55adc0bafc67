import { hostname } from "node:os";
import { isEnabled as evaluateIsEnabled, getVariant as evaluateVariant, type Variant } from "../evaluate.js";
import type { EvaluationOptions, FlagContext } from "../flag-context.js";
import type { Flag, FlagState } from "../flag-schema.js";
import { parseFlagState } from "../parse-flags.js";
import { BackupFile } from "./backup-file.js";
import { changedFlags } from "./changed-flags.js";
import { type ClientIdentity, defaultInstanceId, newConnectionId } from "./client-headers.js";
import { FeaturePoller } from "./feature-poller.js";
import { FlagStream } from "./flag-stream.js";
import { MetricsReporter } from "./metrics-reporter.js";
import { parseClientPayload } from "./parse-client-payload.js";
import type { ReconnectDelayOptions } from "./reconnect-delay.js";
import { RequestOutcomes } from "./request-outcomes.js";

export interface FlagClientOptions {
  /** The client API's base, as for Unleash's SDKs: `https://baton.example.com/api`. */
  url: string;
  /** A client token, sent as it is in `Authorization`. */
  token: string;
  appName: string;
  instanceId?: string;
  /** Added to every context, as unleash-client does (default `default`); also sent with metrics. */
  environment?: string;
  /** A state to answer from until the server has answered (a backup file, when there is one, wins). */
  bootstrap?: FlagState;
  /** Where the last state from the server is kept across restarts. */
  backupFile?: string;
  /** Polling period in ms, when polling (default 15 000). */
  refreshInterval?: number;
  /** Metrics period in ms (default 60 000); 0 sends none. */
  metricsInterval?: number;
  /**
   * How often request outcomes (flags evaluated per request, with the request's status and latency,
   * from the middlewares or `track`) are sent, in ms (default 1 000); 0 sends none.
   */
  outcomesInterval?: number;
  /** Server-sent events, with polling as the fallback (default true); false polls only. */
  streaming?: boolean;
  /** Back-off of stream reconnections (default 1 s doubling up to 30 s). */
  reconnectDelay?: ReconnectDelayOptions;
}

export interface FlagClientEvents {
  /** Names of the flags whose answers may have changed, sorted; every flag of the first state. */
  changed: (names: string[]) => void;
  /**
   * A problem worth knowing (server unreachable, payload refused, backup not written); never thrown.
   * Without a listener, each kind is written to stderr at most once a minute.
   */
  error: (error: Error) => void;
}

export interface FlagClient {
  /** Whether a flag is on, from the last known state; an unknown flag (or no state yet) is off. */
  isEnabled(name: string, context?: FlagContext): boolean;
  /** The flag's variant from the last known state; `disabled` when off or unknown. */
  getVariant(name: string, context?: FlagContext): Variant;
  /** The definition of a flag in the last known state. */
  getFlag(name: string): Flag | undefined;
  /**
   * Records one request's outcome by hand (where no middleware fits): which flags it saw on or off,
   * whether it failed, how long it took. Guarded rollouts compare the two sides.
   */
  track(evaluated: Readonly<Record<string, boolean>>, outcome: { failed: boolean; latencyMs: number }): void;
  /** Request scopes, for the middlewares (`withFlagOutcomes`, `flagOutcomes`, `fastifyFlagOutcomes`). */
  readonly requests: RequestOutcomes;
  /** Resolves on the first state: from the server, the backup file or the bootstrap. */
  ready(): Promise<void>;
  /** Adds a listener; answers a function that removes it. */
  on<E extends keyof FlagClientEvents>(event: E, listener: FlagClientEvents[E]): () => void;
  /** Stops updates, sends the last metrics and waits for the backup file; answering goes on. */
  close(): Promise<void>;
}

// Polling, once streaming failed over to it, tries the stream again this often: one attempt, and back
// to polling at its first failure.
const STREAM_RETRY_MS = 60_000;
const READ_TIMEOUT_MS = 60_000;

/**
 * A client of Unleash's client API (Baton's or Unleash's own): answers synchronously from the last
 * state it took, keeps that state up to date over server-sent events (or polling), and reports counts.
 * Nothing here throws into the application: problems go to `error` listeners.
 */
export function createFlagClient(options: FlagClientOptions): FlagClient {
  const identity: ClientIdentity = {
    token: options.token,
    appName: options.appName,
    instanceId: options.instanceId ?? defaultInstanceId(),
    connectionId: newConnectionId(),
  };
  const staticContext: FlagContext = {
    appName: options.appName,
    environment: options.environment ?? "default",
  };
  // One literal with one spread: merging two spread objects cost ~4 µs a call, more than evaluating.
  const { appName, environment } = staticContext;
  const withStatic = (context: FlagContext): FlagContext => ({ appName, environment, ...context });
  const evaluation: EvaluationOptions = {
    hostname: (process.env.HOSTNAME || hostname() || "undefined").toLowerCase(),
  };
  const listeners = {
    changed: new Set<FlagClientEvents["changed"]>(),
    error: new Set<FlagClientEvents["error"]>(),
  };
  let state: FlagState | undefined;
  let flagsByName = new Map<string, Flag>();
  let closed = false;
  let markReady!: () => void;
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));

  // Errors found while the client is being created come before anyone could listen: deliver them later.
  // With nobody listening, problems go to stderr (each kind at most once a minute): a wrong token or
  // an unreachable server must not leave an application silently answering from an old state.
  const warnedAt = new Map<string, number>();
  const warn = (error: Error) => {
    const kind = error.message.replace(/\d+/g, "#").slice(0, 120);
    const now = Date.now();
    if (now - (warnedAt.get(kind) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
    if (warnedAt.size > 100) warnedAt.clear();
    warnedAt.set(kind, now);
    process.stderr.write(`@baton/flags (${options.appName}): ${error.message}\n`);
  };
  const report = (error: Error) =>
    process.nextTick(() => {
      if (listeners.error.size === 0) return warn(error);
      for (const listener of listeners.error) {
        try {
          listener(error);
        } catch {
          // A listener's own failure has nowhere better to go.
        }
      }
    });

  const backup = options.backupFile ? new BackupFile(options.backupFile, report) : undefined;

  function take(next: FlagState, source: "server" | "backup" | "bootstrap"): void {
    const names = changedFlags(state, next);
    state = next;
    flagsByName = new Map(next.features.map((flag) => [flag.name, flag]));
    if (source === "server") backup?.write(next);
    markReady();
    if (names.length === 0) return;
    for (const listener of listeners.changed) {
      try {
        listener(names);
      } catch (error) {
        report(error as Error);
      }
    }
  }

  /** A payload from the server: taken, or refused (and reported) with the last good state kept. */
  function takePayload(text: string, what: string): boolean {
    if (closed) return false;
    try {
      take(parseClientPayload(text, state), "server");
      return true;
    } catch (error) {
      report(new Error(`${what} refused, last good state kept: ${(error as Error).message}`));
      return false;
    }
  }

  const backedUp = backup?.read();
  if (backedUp) take(backedUp, "backup");
  else if (options.bootstrap) {
    try {
      take(parseFlagState(options.bootstrap), "bootstrap");
    } catch (error) {
      report(new Error(`bootstrap refused: ${(error as Error).message}`));
    }
  }

  const poller = new FeaturePoller({
    url: options.url,
    identity,
    intervalMs: options.refreshInterval ?? 15_000,
    onPayload: (text) => takePayload(text, "features response"),
    onError: report,
  });
  let streamRetry: NodeJS.Timeout | undefined;
  const stream = new FlagStream({
    url: options.url,
    identity,
    reconnect: { initialMs: 1_000, maxMs: 30_000, ...options.reconnectDelay },
    readTimeoutMs: READ_TIMEOUT_MS,
    onPayload: (event) => takePayload(event.data, `${event.event} event`),
    onConnected: () => poller.stop(),
    onFailover: (reason) => {
      if (closed) return;
      if (!poller.running) report(new Error(`streaming failed, polling instead: ${reason.message}`));
      poller.start();
      streamRetry = setTimeout(() => stream.start(1), STREAM_RETRY_MS);
      streamRetry.unref();
    },
    onError: report,
  });
  if (options.streaming === false) poller.start();
  else stream.start(5);

  const metricsInterval = options.metricsInterval ?? 60_000;
  const metrics =
    metricsInterval > 0
      ? new MetricsReporter({
          url: options.url,
          identity,
          environment: options.environment,
          intervalMs: metricsInterval,
          onError: report,
        })
      : undefined;
  metrics?.start();
  const requests = new RequestOutcomes({
    url: options.url,
    identity,
    intervalMs: options.outcomesInterval ?? 1_000,
    onError: report,
  });
  requests.start();

  return {
    isEnabled(name, context = {}) {
      const enabled = state ? evaluateIsEnabled(state, name, withStatic(context), evaluation) : false;
      metrics?.bucket.count(name, enabled);
      requests.note(name, enabled);
      return enabled;
    },
    getVariant(name, context = {}) {
      const variant: Variant = state
        ? evaluateVariant(state, name, withStatic(context), evaluation)
        : { name: "disabled", enabled: false, featureEnabled: false };
      metrics?.bucket.countVariant(name, variant.name);
      metrics?.bucket.count(name, variant.featureEnabled);
      requests.note(name, variant.featureEnabled);
      return variant;
    },
    track(evaluated, outcome) {
      const names = new Map(Object.entries(evaluated).filter(([, v]) => typeof v === "boolean"));
      requests.bucket.record(names, outcome.failed, outcome.latencyMs);
    },
    requests,
    getFlag(name) {
      return flagsByName.get(name);
    },
    ready: () => readyPromise,
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => void set.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      stream.stop();
      poller.stop();
      clearTimeout(streamRetry);
      await Promise.all([metrics?.close(), requests.close(), backup?.flushed()]);
    },
  };
}
