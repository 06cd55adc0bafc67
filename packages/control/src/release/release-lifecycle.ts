import { AuditLog } from "../audit/audit-log.js";
import { BatonControlError } from "../errors.js";
import { failpoint } from "../failpoint.js";
import { type NewRelease, type Release, type ReleasePatch, ReleaseStore } from "../state/release-store.js";
import type { SqlClient } from "../state/sql-client.js";

/**
 * The life of a release, changed only by `ReleaseLifecycle.transition`:
 *
 *   starting --instances up--> progressing --promoted--> succeeded
 *   starting | progressing --failed verdict, abort, error--> rolling-back --old version back--> rolled-back
 *   starting | progressing | rolling-back --nothing more can be done--> failed
 */
export const ReleaseStatus = {
  Starting: "starting",
  Progressing: "progressing",
  RollingBack: "rolling-back",
  RolledBack: "rolled-back",
  Succeeded: "succeeded",
  Failed: "failed",
} as const;
export type ReleaseStatus = (typeof ReleaseStatus)[keyof typeof ReleaseStatus];

const NEXT: Record<ReleaseStatus, readonly ReleaseStatus[]> = {
  starting: ["progressing", "rolling-back", "failed"],
  progressing: ["rolling-back", "succeeded", "failed"],
  "rolling-back": ["rolled-back", "failed"],
  "rolled-back": [],
  succeeded: [],
  failed: [],
};

/** The statuses of a release still in flight (at most one per service). */
export const IN_FLIGHT: readonly ReleaseStatus[] = ["starting", "progressing", "rolling-back"];

export function inFlight(status: ReleaseStatus): boolean {
  return IN_FLIGHT.includes(status);
}

export class IllegalTransitionError extends BatonControlError {
  constructor(release: Release, to: ReleaseStatus) {
    super(
      "BATON_ILLEGAL_TRANSITION",
      `release ${release.id} of ${release.version} is ${release.status}; it cannot become ${to}`,
    );
  }
}

export interface Transition {
  to: ReleaseStatus;
  actor: string;
  reason?: string;
  /** Other fields written in the same statement (instances, step, ...). */
  patch?: ReleasePatch;
  /** Kept with the audit event. */
  details?: Record<string, unknown>;
}

/**
 * The one place where a release changes: each change is one transaction that writes the release
 * row and its audit event together, so the log never misses a change and never records one that
 * did not happen. Transitions are checked; asking again for the status a release already has is a
 * no-op, which makes every step safe to re-run after a crash.
 */
export class ReleaseLifecycle {
  constructor(private readonly db: SqlClient) {}

  /** Records a new release (status starting) and its `release.started` event. */
  async create(input: NewRelease, actor: string, details: Record<string, unknown> = {}): Promise<Release> {
    const release = await this.db.transaction(async (tx) => {
      const r = await new ReleaseStore(tx).create(input);
      await new AuditLog(tx).append({
        actor,
        action: "release.started",
        service: r.service,
        version: r.version,
        strategy: r.strategy,
        details: { releaseId: r.id, from: r.previousVersion, ...details },
      });
      return r;
    });
    failpoint(release.version, "release.starting");
    return release;
  }

  async transition(release: Release, t: Transition): Promise<Release> {
    const out = await this.db.transaction(async (tx) => {
      const store = new ReleaseStore(tx);
      const current = await store.lock(release.id);
      if (!current) throw new BatonControlError("BATON_UNKNOWN_RELEASE", `no release ${release.id}`);
      if (current.status === t.to) return current;
      if (!NEXT[current.status].includes(t.to)) throw new IllegalTransitionError(current, t.to);
      const next = await store.update(release.id, {
        ...t.patch,
        status: t.to,
        ...(t.reason !== undefined ? { reason: t.reason } : {}),
      });
      await new AuditLog(tx).append({
        actor: t.actor,
        action: `release.${t.to}`,
        service: next.service,
        version: next.version,
        strategy: next.strategy,
        details: {
          releaseId: next.id,
          from: current.status,
          ...(t.reason !== undefined ? { reason: t.reason } : {}),
          ...t.details,
        },
      });
      return next;
    });
    failpoint(out.version, `release.${t.to}`);
    return out;
  }

  /**
   * Progress within a status: the step reached, the instances recorded. A new step moves traffic,
   * so it is audited (`release.step`); instances and environment are not events of their own.
   */
  async record(release: Release, actor: string, patch: ReleasePatch): Promise<Release> {
    const out = await this.db.transaction(async (tx) => {
      const store = new ReleaseStore(tx);
      const current = await store.lock(release.id);
      if (!current || !inFlight(current.status))
        throw new IllegalTransitionError(current ?? release, current?.status ?? release.status);
      const next = await store.update(release.id, patch);
      if (patch.step !== undefined && patch.step !== current.step)
        await new AuditLog(tx).append({
          actor,
          action: "release.step",
          service: next.service,
          version: next.version,
          strategy: next.strategy,
          details: { releaseId: next.id, step: patch.step },
        });
      return next;
    });
    if (patch.step !== undefined) failpoint(out.version, `release.step.${patch.step}`);
    return out;
  }
}
