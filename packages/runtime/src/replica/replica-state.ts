import { formatLsnToken } from "./lsn-token.js";

/** How far behind a replica may be for eventual reads. */
export interface MaxLag {
  /** Staleness in milliseconds: the age of the oldest commit the replica may be missing. */
  ms: number;
  /** WAL bytes between the primary's current position and the replica's replay position. */
  bytes?: number;
}

/** Why a replica is in or out of rotation. */
export type ReplicaReason = "unchecked" | "ok" | "lagging" | "recovering" | "failed" | "not_replica";

/** One replica as the pool sees it (`pool.status()`), for logs and health details. */
export interface ReplicaStatus {
  name: string;
  inRotation: boolean;
  reason: ReplicaReason;
  /** At the last check; undefined before the first. */
  lagMs: number | undefined;
  lagBytes: number | undefined;
  /** The highest replay position seen, as a token ("16/B374D848"). */
  replayLsn: string | undefined;
  /** Checks in a row within the way-back threshold, while out of rotation. */
  goodChecks: number;
  lastError: string | undefined;
}

/** What one successful check found, already reduced to the replica's staleness. */
export interface LagObservation {
  /** Local clock (ms): the replica has every commit made on the primary before this. */
  completeAsOf: number | undefined;
  /** When the check ended (local clock, ms). */
  at: number;
  replayLsn: bigint;
  lagBytes: number;
}

export interface Hysteresis {
  /** Back in rotation only below this fraction of maxLag (default 0.5)... */
  ratio: number;
  /** ...for this many consecutive checks (default 3). */
  checks: number;
}

/**
 * One replica's rotation state with hysteresis: out at once when a check fails or finds it above
 * maxLag, back only after `checks` consecutive checks below `ratio` × maxLag, so that a replica
 * hovering around the threshold does not flap. A replica never in rotation yet (at start) comes in
 * after one good check: there is nothing to flap from.
 */
export class ReplicaState {
  inRotation = false;
  reason: ReplicaReason = "unchecked";
  completeAsOf: number | undefined;
  replayLsn = -1n;
  lagMs: number | undefined;
  lagBytes: number | undefined;
  goodChecks = 0;
  lastError: string | undefined;
  private everIn = false;

  constructor(
    readonly name: string,
    private readonly maxLag: MaxLag,
    private readonly hysteresis: Hysteresis,
  ) {}

  /** Applies a check's result; returns the transition it caused, if any. */
  observe(seen: LagObservation): "in" | "out" | undefined {
    this.noteReplay(seen.replayLsn);
    this.completeAsOf = seen.completeAsOf;
    this.lagMs =
      seen.completeAsOf === undefined ? Number.POSITIVE_INFINITY : Math.max(0, seen.at - seen.completeAsOf);
    this.lagBytes = seen.lagBytes;
    this.lastError = undefined;
    if (this.inRotation) {
      if (this.within(1)) return undefined;
      this.goodChecks = 0;
      return this.leave("lagging");
    }
    this.goodChecks = this.within(this.hysteresis.ratio) ? this.goodChecks + 1 : 0;
    if (this.goodChecks >= (this.everIn ? this.hysteresis.checks : 1)) {
      this.inRotation = this.everIn = true;
      this.reason = "ok";
      this.goodChecks = 0;
      return "in";
    }
    this.reason = this.goodChecks > 0 ? "recovering" : "lagging";
    return undefined;
  }

  /** A failed or timed-out check or read: out at once, and the way back starts over. */
  fail(error: unknown, reason: "failed" | "not_replica" = "failed"): "out" | undefined {
    this.lastError = error instanceof Error ? error.message : String(error);
    this.goodChecks = 0;
    this.completeAsOf = undefined;
    if (!this.inRotation) {
      this.reason = reason;
      return undefined;
    }
    return this.leave(reason);
  }

  /** A replay position learnt outside a check (a read-your-writes probe); it only moves forward. */
  noteReplay(lsn: bigint): void {
    if (lsn > this.replayLsn) this.replayLsn = lsn;
  }

  /**
   * Usable for an eventual read at `now`: in rotation, and known complete recently enough. The
   * staleness bound ages between checks, so a replica whose checks stop answering stops serving
   * after maxLag even before a check fails.
   */
  usable(now: number): boolean {
    return this.inRotation && this.completeAsOf !== undefined && now - this.completeAsOf <= this.maxLag.ms;
  }

  status(): ReplicaStatus {
    return {
      name: this.name,
      inRotation: this.inRotation,
      reason: this.reason,
      lagMs: this.lagMs,
      lagBytes: this.lagBytes,
      replayLsn: this.replayLsn >= 0n ? formatLsnToken(this.replayLsn) : undefined,
      goodChecks: this.goodChecks,
      lastError: this.lastError,
    };
  }

  private within(fraction: number): boolean {
    const { ms, bytes } = this.maxLag;
    return (
      (this.lagMs ?? Number.POSITIVE_INFINITY) <= ms * fraction &&
      (bytes === undefined || (this.lagBytes ?? 0) <= bytes * fraction)
    );
  }

  private leave(reason: ReplicaReason): "out" {
    this.inRotation = false;
    this.reason = reason;
    return "out";
  }
}
