import type { MigrationRecord } from "@baton/migrate";
import type { ErrorCode } from "../errors.js";
import { inFlight } from "../release/release-lifecycle.js";
import { MIGRATION_ENV } from "../release/release-migration.js";
import type { Release } from "../state/release-store.js";
import { type BackfillView, backfillsOf } from "./backfill-view.js";

/** Why the control plane would refuse an action now: a code of the catalog and a sentence. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** What the checks look at, read once for the page's view and for an action alike. */
export interface MigrationSituation {
  service: string;
  active: MigrationRecord | null;
  /** The latest release (in flight or not). */
  release: Release | null;
  /** What serves, with the environment and id of the release it was released by. */
  serving: { version: string; env: Record<string, string>; releaseId: number | null } | null;
  /** The previous version while it is kept warm for a one-switch rollback. */
  warm: { version: string; until: string } | null;
  now?: number;
}

/**
 * The release that started `record`: its environment names it, or it is in flight and the
 * migration started after it (its environment says so only once the start has finished).
 */
export function startedBy(
  record: MigrationRecord,
  s: Omit<MigrationSituation, "active">,
): { id: number; version: string } | null {
  const r = s.release;
  if (
    r &&
    (r.env[MIGRATION_ENV] === record.name ||
      (inFlight(r.status) &&
        !r.env[MIGRATION_ENV] &&
        Date.parse(record.startedAt) >= Date.parse(r.createdAt)))
  )
    return { id: r.id, version: r.version };
  if (s.serving?.releaseId && s.serving.env[MIGRATION_ENV] === record.name)
    return { id: s.serving.releaseId, version: s.serving.version };
  return null;
}

/** Whether `complete` or `rollback` of the active migration would be refused now, and why. */
export function refusalOf(action: "complete" | "rollback", s: MigrationSituation): Refusal | null {
  const { active, release, serving, warm } = s;
  if (!active)
    return {
      code: "BATON_NO_ACTIVE_MIGRATION",
      message: "no migration is in progress: nothing to " + action,
    };
  const name = active.name;
  if (release && inFlight(release.status)) {
    const its = startedBy(active, s)?.id === release.id;
    const how =
      action === "complete"
        ? its
          ? "it completes with the release once the old version has drained: promote the release, or wait for it"
          : "wait for the release to end first"
        : its
          ? "it is rolled back with the release: abort the release instead"
          : "wait for the release to end first";
    return {
      code: "BATON_MIGRATION_RELEASE_IN_FLIGHT",
      message: `release ${release.id} of ${release.version} is in flight (${release.status}); ${its ? `migration ${name} is its own: ` : ""}${how}`,
    };
  }
  const file = active.migration as { operations?: unknown[] };
  const count = file.operations?.length ?? 0;
  const notStarted = Array.from({ length: count }, (_, i) => i).filter(
    (i) => !(active.progress[String(i)] as { started?: boolean } | undefined)?.started,
  );
  const backfills = backfillsOf(active, s.now);
  const running = backfills.find((b) => b.running);
  if (running)
    return {
      code: "BATON_MIGRATION_STARTING",
      message: `migration ${name} is still starting: ${backfillWords(running)}; ${action} it once the backfill has finished`,
    };
  if (action === "complete" && notStarted.length > 0)
    return {
      code: "BATON_MIGRATION_STARTING",
      message: `migration ${name} did not finish starting (operation ${notStarted[0]! + 1} of ${count} has not run; its process stopped): run baton migrate start again to resume it, or roll it back`,
    };
  if (action === "complete" && warm)
    return {
      code: "BATON_MIGRATION_STILL_NEEDED",
      message: `${warm.version} is kept warm until ${warm.until} for a one-switch rollback and still reads the old version schema${active.previousVersionSchema ? ` ${active.previousVersionSchema}` : ""}: completing now would break it; migration ${name} completes when it retires`,
    };
  if (action === "rollback" && serving && serving.env[MIGRATION_ENV] === name)
    return {
      code: "BATON_MIGRATION_SERVES",
      message: `${serving.version}, which serves traffic, was released with migration ${name} and reads its version schema ${active.versionSchema}: rolling the migration back would break it; roll back the release instead`,
    };
  return null;
}

/** "its backfill of orders.euros is at 41% (82000 of 200000 rows)" */
export function backfillWords(b: BackfillView): string {
  const of = b.total !== null ? ` of ${b.total}` : "";
  return `its backfill of ${b.table}.${b.column} is at ${b.percent !== null ? `${b.percent}% (` : ""}${b.done}${of} rows${b.percent !== null ? ")" : ""}`;
}
