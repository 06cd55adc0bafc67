import { performance } from "node:perf_hooks";
import { parseLsnToken } from "./lsn-token.js";
import type { ReplicaMetrics } from "./replica-metrics.js";
import { type Hysteresis, type MaxLag, ReplicaState, type ReplicaStatus } from "./replica-state.js";
import { withTimeout } from "./with-timeout.js";

/** Runs one statement without parameters and returns its first row (adapts pg or postgres.js). */
export type RowQuery = (sql: string, timeoutMs: number) => Promise<Record<string, unknown> | undefined>;

export interface ReplicaMonitorOptions {
  intervalMs: number;
  timeoutMs: number;
  maxLag: MaxLag;
  hysteresis: Hysteresis;
  metrics: ReplicaMetrics;
  onChange?: ((status: ReplicaStatus) => void) | undefined;
}

// clock_timestamp(), not now(): the time of the reading, not of the transaction's start.
const REPLICA_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS since_replay_ms`;
// The write position, not the insert position: it is what a caught-up replica's replay position
// equals on an idle primary (the insert position can sit past a page or segment header).
const PRIMARY_SQL = "SELECT pg_current_wal_lsn()::text AS lsn";

/**
 * Measures each replica's staleness in the background and keeps its rotation state.
 *
 * Staleness is bounded from the LSNs, which are right on an idle primary where "time since the last
 * replayed transaction" grows without any lag: each round reads the replicas first and the primary
 * after, keeping the primary's positions with the local time each reading started. A replica whose
 * replay position has reached a position the primary had at time t holds every commit made before
 * t; one level with the primary's current position is complete as of this round. The replayed
 * transaction's timestamp is a second bound (assuming the servers' clocks agree), for a replica
 * behind every position kept.
 */
export class ReplicaMonitor {
  readonly states: ReplicaState[];
  private samples: { lsn: bigint; at: number }[] = [];
  private pending = new Set<number>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly primary: RowQuery,
    private readonly replicas: { name: string; query: RowQuery }[],
    private readonly options: ReplicaMonitorOptions,
  ) {
    this.states = replicas.map(({ name }) => new ReplicaState(name, options.maxLag, options.hysteresis));
  }

  /** Checks now, then every `intervalMs` after each round ends (a slow round never overlaps the next). */
  start(): void {
    const loop = () => {
      if (this.stopped) return;
      void this.check().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(loop, this.options.intervalMs);
        this.timer.unref();
      });
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One round of checks, or the one in progress. Never rejects. */
  check(): Promise<void> {
    // A round only records; nothing in it may stop the next one (nor surface as an unhandled rejection).
    this.running ??= this.round()
      .catch(() => {})
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** A read or probe found the replica failing: out of rotation at once, not at the next check. */
  fail(index: number, error: unknown): void {
    const state = this.states[index];
    if (state) this.apply(state, state.fail(error));
  }

  private async round(): Promise<void> {
    const { timeoutMs, maxLag, intervalMs } = this.options;
    const readings = await Promise.all(
      this.replicas.map(async ({ name, query }, index) => {
        // One check per replica at a time: a hung server must not collect a connection per round.
        if (this.pending.has(index))
          return { index, error: new Error(`${name}: the previous check is still waiting for an answer`) };
        this.pending.add(index);
        const startedAt = performance.now();
        const answer = query(REPLICA_SQL, timeoutMs).finally(() => this.pending.delete(index));
        try {
          const row = await withTimeout(answer, timeoutMs, `${name}: lag check`);
          return { index, row, startedAt };
        } catch (error) {
          return { index, error };
        }
      }),
    );
    let primaryLsn: bigint | undefined;
    const primaryAt = performance.now();
    try {
      const row = await withTimeout(this.primary(PRIMARY_SQL, timeoutMs), timeoutMs, "primary: WAL position");
      primaryLsn = parseLsnToken(String(row?.lsn));
      this.samples.push({ lsn: primaryLsn, at: primaryAt });
      // Positions older than twice maxLag can only prove a staleness above it: useless.
      const horizon = primaryAt - 2 * maxLag.ms - 2 * intervalMs;
      while (this.samples.length > 1 && ((this.samples[0]?.at ?? 0) < horizon || this.samples.length > 1000))
        this.samples.shift();
    } catch {
      // Without the primary's position no staleness can be proven: states keep their last bound,
      // which ages, so the replicas leave eventual reads after maxLag.
    }
    for (const reading of readings) {
      const state = this.states[reading.index] as ReplicaState;
      if ("error" in reading) {
        this.apply(state, state.fail(reading.error));
        continue;
      }
      const row = reading.row ?? {};
      if (row.in_recovery !== true) {
        const error = new Error(`${state.name} is not in recovery: promoted, or not a replica`);
        this.apply(state, state.fail(error, "not_replica"));
        continue;
      }
      if (primaryLsn === undefined) continue;
      let replay: bigint;
      try {
        replay = parseLsnToken(String(row.replay_lsn));
      } catch {
        this.apply(state, state.fail(new Error(`${state.name} has replayed nothing yet`)));
        continue;
      }
      let completeAsOf: number | undefined;
      if (replay >= primaryLsn) completeAsOf = primaryAt;
      else {
        for (let i = this.samples.length - 1; i >= 0; i--) {
          const sample = this.samples[i] as { lsn: bigint; at: number };
          if (sample.lsn <= replay) {
            completeAsOf = sample.at;
            break;
          }
        }
        const since = row.since_replay_ms;
        if (typeof since === "number" && Number.isFinite(since)) {
          const byTimestamp = reading.startedAt - Math.max(0, since);
          if (completeAsOf === undefined || byTimestamp > completeAsOf) completeAsOf = byTimestamp;
        }
      }
      const lagBytes = replay >= primaryLsn ? 0 : Number(primaryLsn - replay);
      this.apply(state, state.observe({ completeAsOf, at: performance.now(), replayLsn: replay, lagBytes }));
    }
  }

  private apply(state: ReplicaState, transition: "in" | "out" | undefined): void {
    const { metrics, onChange } = this.options;
    metrics.lag(state.name, state.lagMs, state.lagBytes, state.inRotation);
    if (!transition) return;
    metrics.transition(state.name, transition, state.reason);
    try {
      onChange?.(state.status());
    } catch {
      // The application's logger failing must not stop the checks.
    }
  }
}
