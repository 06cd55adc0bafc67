import { performance } from "node:perf_hooks";
import type { Registry } from "prom-client";
import { parseLsnToken } from "./lsn-token.js";
import { type ReadReason, type ReplicaMetrics, replicaMetrics } from "./replica-metrics.js";
import { ReplicaMonitor, type RowQuery } from "./replica-monitor.js";
import type { Hysteresis, MaxLag, ReplicaStatus } from "./replica-state.js";
import { ReplicaTimeoutError, withTimeout } from "./with-timeout.js";

/** "strong": the primary. "eventual": a replica within maxLag, else the primary. */
export type Consistency = "eventual" | "strong";

/** Options every replica-aware client takes, whatever its driver. */
export interface ReplicaRoutingOptions {
  /** How stale an eventual read may be: milliseconds, or `{ ms, bytes }`. */
  maxLag: number | MaxLag;
  /** Between the end of one round of lag checks and the next (default 500 ms). */
  checkIntervalMs?: number;
  /** A lag check or a read-your-writes probe without an answer by then fails (default 1000 ms). */
  checkTimeoutMs?: number;
  /** A read on a replica without an answer by then runs again on the primary, and the replica is taken out (default 2000 ms). */
  replicaTimeoutMs?: number;
  /** Back in rotation below `ratio` × maxLag (0.5) for `checks` consecutive checks (3). */
  hysteresis?: Partial<Hysteresis>;
  /** prom-client registry for the metrics; `false`: none. Default: the global registry. */
  registry?: Registry | false;
  /** A replica taken out of rotation or brought back (for logs). */
  onChange?: (status: ReplicaStatus) => void;
}

/** A server the router can send reads to, and check. */
export interface RoutedTarget<T> {
  name: string;
  target: T;
  query: RowQuery;
}

/** Where a read was sent, as a caller can see it in tests and logs. */
export interface ReadRoute {
  target: string;
  reason: ReadReason;
}

const PROBE_SQL = "SELECT pg_last_wal_replay_lsn()::text AS lsn";

/**
 * The driver-independent part of replica-aware reads: lag checks in the background, the choice of
 * a server per read (with a read-your-writes position when a session has one), the fallback to
 * the primary when a replica fails, and the metrics of all of it.
 */
export class ReplicaRouter<T> {
  readonly monitor: ReplicaMonitor;
  private readonly metrics: ReplicaMetrics;
  private readonly replicaTimeoutMs: number;
  private readonly checkTimeoutMs: number;
  private readonly probes = new Map<number, Promise<void>>();
  private next = 0;

  constructor(
    private readonly primary: RoutedTarget<T>,
    private readonly replicas: RoutedTarget<T>[],
    options: ReplicaRoutingOptions,
  ) {
    const maxLag = typeof options.maxLag === "number" ? { ms: options.maxLag } : options.maxLag;
    positive("maxLag.ms", maxLag?.ms);
    if (maxLag.bytes !== undefined) positive("maxLag.bytes", maxLag.bytes);
    const intervalMs = positive("checkIntervalMs", options.checkIntervalMs ?? 500);
    this.checkTimeoutMs = positive("checkTimeoutMs", options.checkTimeoutMs ?? 1000);
    this.replicaTimeoutMs = positive("replicaTimeoutMs", options.replicaTimeoutMs ?? 2000);
    const ratio = options.hysteresis?.ratio ?? 0.5;
    if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`hysteresis.ratio must be in (0, 1], got ${ratio}`);
    const checks = options.hysteresis?.checks ?? 3;
    if (!Number.isInteger(checks) || checks < 1)
      throw new RangeError(`hysteresis.checks must be a positive integer, got ${checks}`);
    const names = new Set(replicas.map((r) => r.name));
    if (names.size !== replicas.length || names.has("primary"))
      throw new Error(
        `replica names must be unique and not "primary": ${replicas.map((r) => r.name).join(", ")}`,
      );
    this.metrics = replicaMetrics(options.registry);
    this.monitor = new ReplicaMonitor(primary.query, replicas, {
      intervalMs,
      timeoutMs: this.checkTimeoutMs,
      maxLag,
      hysteresis: { ratio, checks },
      metrics: this.metrics,
      onChange: options.onChange,
    });
    if (replicas.length > 0) this.monitor.start();
  }

  /**
   * Runs a read on the server its consistency allows: `after` is a session's last write position,
   * which a replica must have replayed. A replica that fails or times out is taken out and the read
   * runs again on the primary; an error of the query itself (SQL, permissions) is the caller's.
   */
  async read<R>(
    fn: (target: T, route: ReadRoute) => Promise<R>,
    consistency: Consistency,
    after?: bigint,
  ): Promise<R> {
    const choice = await this.choose(consistency, after);
    const replica = choice.index === undefined ? undefined : this.replicas[choice.index];
    if (!replica || choice.index === undefined) return this.onPrimary(fn, choice.reason);
    try {
      const route = { target: replica.name, reason: choice.reason };
      const result = await withTimeout(
        fn(replica.target, route),
        this.replicaTimeoutMs,
        `${replica.name}: read`,
      );
      this.metrics.read(replica.name, choice.reason);
      return result;
    } catch (error) {
      const verdict = classify(error);
      if (verdict === "caller") throw error;
      if (verdict === "replica_down") this.monitor.fail(choice.index, error);
      return this.onPrimary(fn, "replica_failed");
    }
  }

  status(): ReplicaStatus[] {
    return this.monitor.states.map((s) => s.status());
  }

  close(): void {
    this.monitor.stop();
  }

  private onPrimary<R>(fn: (target: T, route: ReadRoute) => Promise<R>, reason: ReadReason): Promise<R> {
    this.metrics.read("primary", reason);
    return fn(this.primary.target, { target: "primary", reason });
  }

  private async choose(consistency: Consistency, after: bigint | undefined) {
    if (consistency === "strong") return { reason: "strong" as const };
    if (this.replicas.length === 0) return { reason: "no_replica" as const };
    const now = performance.now();
    const states = this.monitor.states;
    const usable = states.flatMap((state, index) => (state.usable(now) ? [index] : []));
    if (usable.length === 0) return { reason: "lagging" as const };
    if (after === undefined) return { index: this.pick(usable), reason: "eventual" as const };
    const replayed = usable.filter((i) => (states[i]?.replayLsn ?? -1n) >= after);
    if (replayed.length > 0) return { index: this.pick(replayed), reason: "replayed" as const };
    // The last check predates the session's write: ask the most advanced usable replica where it
    // is now. Replay only moves forward, so any answer at or past the write's position will do,
    // and concurrent reads share one probe.
    const best = usable.reduce((a, b) =>
      (states[b]?.replayLsn ?? -1n) > (states[a]?.replayLsn ?? -1n) ? b : a,
    );
    await this.probe(best);
    if ((states[best]?.replayLsn ?? -1n) >= after && states[best]?.usable(performance.now()))
      return { index: best, reason: "replayed" as const };
    return { reason: "not_replayed" as const };
  }

  private probe(index: number): Promise<void> {
    let running = this.probes.get(index);
    if (!running) {
      const replica = this.replicas[index] as RoutedTarget<T>;
      running = withTimeout(
        replica.query(PROBE_SQL, this.checkTimeoutMs),
        this.checkTimeoutMs,
        `${replica.name}: replay position`,
      )
        .then((row) => this.monitor.states[index]?.noteReplay(parseLsnToken(String(row?.lsn))))
        .catch((error: unknown) => {
          if (classify(error) === "replica_down") this.monitor.fail(index, error);
        })
        .finally(() => this.probes.delete(index));
      this.probes.set(index, running);
    }
    return running;
  }

  private pick(indices: number[]): number {
    this.next = (this.next + 1) % 1_000_000;
    return indices[this.next % indices.length] as number;
  }
}

// Network failures (Node), and postgres.js's connection errors.
const CONNECTION_CODES = new Set([
  ...[
    "ECONNREFUSED",
    "ECONNRESET",
    "EPIPE",
    "ETIMEDOUT",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "ENOTFOUND",
    "EAI_AGAIN",
  ],
  ...["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "CONNECT_TIMEOUT"],
]);
// node-postgres gives its connection failures no code, only these messages.
const PG_CONNECTION_MESSAGE =
  /^(Connection terminated|timeout expired|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed)/;

/**
 * What a failed replica read means. Only a failure recognisably the replica's takes it out and
 * runs the read again on the primary: a timeout, a network or driver connection error, or a
 * PostgreSQL error of class 08 (connection), 53 (resources), 57 (shutting down, starting up) or
 * 58 (system). 40001 on a standby is a recovery conflict, which the primary does not have: the
 * read runs there, the replica stays. Anything else (an SQL error, an error the caller's function
 * throws) is the caller's, and would be the same on the primary.
 */
function classify(error: unknown): "replica_down" | "retry_on_primary" | "caller" {
  if (error instanceof ReplicaTimeoutError) return "replica_down";
  const e = error as { severity?: unknown; code?: unknown; message?: unknown } | undefined;
  if (typeof e?.severity === "string" && typeof e.code === "string") {
    if (e.code === "40001") return "retry_on_primary";
    return /^(08|53|57|58)/.test(e.code) ? "replica_down" : "caller";
  }
  if (typeof e?.code === "string" && CONNECTION_CODES.has(e.code)) return "replica_down";
  if (typeof e?.message === "string" && PG_CONNECTION_MESSAGE.test(e.message)) return "replica_down";
  return "caller";
}

function positive(name: string, value: number | undefined): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
    throw new RangeError(
      `${name} must be a positive finite number of ${name.endsWith("bytes") ? "bytes" : "ms"}, got ${value}`,
    );
  return value;
}
