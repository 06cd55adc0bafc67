import { isAbsolute } from "node:path";
import {
  EngineError,
  loadMigrationFile,
  type MigrationRecord,
  type MigrationResult,
  type MigrationStatusReport,
  Migrator,
  type OperationSpec,
  type SqlPool,
  searchPathFor,
} from "@baton/migrate";
import { BadRequestError } from "../api-input.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Status } from "../control-plane.js";
import { BatonControlError } from "../errors.js";
import { inFlight } from "../release/release-lifecycle.js";
import { backfillOptionsOf } from "../release/release-migration.js";
import type { ReleaseStore } from "../state/release-store.js";
import { type BackfillView, backfillsOf } from "./backfill-view.js";
import {
  type MigrationDatabase,
  type MigrationSettings,
  migrationDatabase,
  migrationPool,
  redactUrl,
} from "./migration-database.js";
import { type MigrationSituation, type Refusal, refusalOf, startedBy } from "./migration-refusal.js";
import { operationSummary } from "./operation-summary.js";

/** What the monitor needs of the control plane. */
export interface MigrationPlane {
  readonly service: string;
  readonly store: Pick<ReleaseStore, "latestOf">;
  readonly audit: Pick<AuditLog, "append">;
  status(): Promise<Pick<Status, "serving" | "warm" | "release">>;
}

export interface MigrationMonitorOptions {
  plane: MigrationPlane;
  /**
   * baton.yaml's `migration` section as it is now (the file is read again at every release, so
   * an edit shows without a restart); undefined when it has none.
   */
  settings: () => Promise<MigrationSettings | undefined> | MigrationSettings | undefined;
  log?: (line: string) => void;
}

/** A migration record as the page lists it. */
export interface MigrationSummary {
  id: number;
  name: string;
  status: MigrationRecord["status"];
  versionSchema: string;
  previousVersionSchema: string | null;
  startedAt: string;
  endedAt: string | null;
}

export interface ActiveMigrationView extends MigrationSummary {
  /** `starting` while an operation has yet to finish its start (a backfill runs, or was cut short). */
  phase: "starting" | "started";
  /** The release that started it (its environment names it), if one did. */
  release: { id: number; version: string } | null;
  operations: { index: number; op: string; summary: string; started: boolean }[];
  backfills: BackfillView[];
}

export interface VersionSchemaView {
  /** old: the version before the migration in progress; new: its version; current: no migration in progress. */
  role: "old" | "new" | "current";
  schema: string | null;
  searchPath: string;
}

export interface ActionView {
  allowed: boolean;
  code?: string;
  reason?: string;
}

export interface MigrationView {
  service: string;
  configured: boolean;
  /** Not configured: why, and how to configure it, in words. */
  reason: string | null;
  settings: {
    file: string;
    schema: string;
    databaseEnv: string;
    backfill?: { batchSize?: number; delay?: number };
  } | null;
  database: { url: string; from: string } | null;
  active: ActiveMigrationView | null;
  versionSchemas: VersionSchemaView[];
  /** Newest first, at most 20. */
  history: MigrationSummary[];
  actions: { complete: ActionView; rollback: ActionView };
  at: string;
}

const HOW_TO_CONFIGURE =
  "add a migration section to baton.yaml, e.g. `migration: { file: migrations/02_add_euros.yaml, schema: public, databaseEnv: DATABASE_URL }`: each release then starts the file's migration before its new instances and completes it once the old version has drained";

const HISTORY = 20;

/**
 * The service's database migration as the control plane sees it: baton.yaml's migration
 * settings, the application's database (the rule of the release's hooks), the engine's state
 * there (the active migration, its operations and its backfills' progress, which the migrator
 * saves as it goes, whichever process runs it), and the operator's complete and rollback,
 * refused while they would break a release or a serving version.
 */
export class MigrationMonitor {
  private pool: { url: string; pool: SqlPool } | undefined;
  /** One action at a time: a second click waits, then finds the migration gone. */
  private acting: Promise<unknown> = Promise.resolve();
  /** A migration started by hand, running in the background (its backfill, say). */
  private starting: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: MigrationMonitorOptions) {}

  async view(): Promise<MigrationView> {
    const at = new Date().toISOString();
    const settings = await this.opts.settings();
    const service = this.opts.plane.service;
    const refused = (why: string) => ({
      allowed: false,
      code: "BATON_MIGRATION_NOT_CONFIGURED",
      reason: why,
    });
    const empty = (reason: string, db: MigrationDatabase | null = null): MigrationView => ({
      service,
      configured: false,
      reason,
      settings: settings ? settingsView(settings) : null,
      database: db ? { url: redactUrl(db.url), from: db.from } : null,
      active: null,
      versionSchemas: [],
      history: [],
      actions: { complete: refused(reason), rollback: refused(reason) },
      at,
    });
    if (!settings)
      return empty(`baton.yaml has no migration section; to run one with each release, ${HOW_TO_CONFIGURE}`);
    const situation = await this.situation();
    let db: MigrationDatabase;
    try {
      db = migrationDatabase(settings, situation.release?.env ?? {});
    } catch (err) {
      return empty((err as Error).message);
    }
    const report = await this.status(settings, db);
    const s = { ...situation, active: report.active };
    const action = (r: Refusal | null): ActionView =>
      r ? { allowed: false, code: r.code, reason: r.message } : { allowed: true };
    return {
      service,
      configured: true,
      reason: null,
      settings: settingsView(settings),
      database: { url: redactUrl(db.url), from: db.from },
      active: report.active ? activeView(report.active, situation) : null,
      versionSchemas: versionSchemas(report),
      history: [...report.history].reverse().slice(0, HISTORY).map(summary),
      actions: { complete: action(refusalOf("complete", s)), rollback: action(refusalOf("rollback", s)) },
      at,
    };
  }

  /** Completes the active migration (the old version's schema and what only it needed go), audited. */
  complete(actor: string): Promise<{ migration: MigrationSummary; warnings: string[] }> {
    return this.act("complete", actor);
  }

  /** Rolls the active migration back (the schema as before it started), audited. */
  rollback(actor: string): Promise<{ migration: MigrationSummary; warnings: string[] }> {
    return this.act("rollback", actor);
  }

  /**
   * Starts a migration file by hand (`baton migrate start`, from the dashboard): checked first
   * (the file parses, its SQL too; no release in flight; no other migration in progress; not
   * already applied), then started in the background, so that a long backfill is watched on the
   * page rather than held in a request. Audited as migration.started, or migration.start-failed
   * with the engine's words (the migration then stays as far as it got: roll it back, or start it
   * again to resume).
   */
  async start(file: string, actor: string): Promise<{ migration: string; schema: string }> {
    if (!isAbsolute(file))
      throw new BadRequestError(
        "file",
        `file must be the absolute path of a migration file on the control plane's machine, not ${file}`,
      );
    const settings = await this.opts.settings();
    if (!settings)
      throw new BatonControlError(
        "BATON_MIGRATION_NOT_CONFIGURED",
        `baton.yaml has no migration section (it names the schema and the database); ${HOW_TO_CONFIGURE}`,
      );
    const migration = await loadMigrationFile(file).catch((err: Error) => {
      throw new BadRequestError("file", err.message);
    });
    const situation = await this.situation();
    if (situation.release && inFlight(situation.release.status))
      throw new BatonControlError(
        "BATON_MIGRATION_RELEASE_IN_FLIGHT",
        `release ${situation.release.id} of ${situation.release.version} is in flight: a migration started now would change the schema under it; start it once the release has ended`,
      );
    const db = migrationDatabase(settings, situation.release?.env ?? {});
    const report = await this.status(settings, db);
    if (report.active)
      throw new BatonControlError(
        "BATON_MIGRATION_IN_PROGRESS",
        `migration ${report.active.name} is in progress on ${settings.schema}: complete or roll it back first`,
      );
    if (report.history.some((r) => r.name === migration.name && r.status === "completed"))
      throw new BatonControlError(
        "BATON_MIGRATION_APPLIED",
        `migration ${migration.name} was already completed on ${settings.schema}`,
      );
    const migrator = this.migrator(settings, db);
    const audit = (action: string, details: Record<string, unknown>) =>
      this.opts.plane.audit
        .append({ actor, action, service: this.opts.plane.service, details })
        .catch((err: Error) =>
          this.opts.log?.(`migration ${migration.name}: audit event ${action} not written: ${err.message}`),
        );
    this.opts.log?.(`migration ${migration.name} started by ${actor} from ${file}`);
    this.starting = migrator.start(migration).then(
      (done) =>
        audit("migration.started", {
          migration: done.name,
          schema: settings.schema,
          versionSchema: done.versionSchema,
          file,
        }),
      (err: Error) => {
        this.opts.log?.(`migration ${migration.name} failed to start: ${err.message}`);
        return audit("migration.start-failed", {
          migration: migration.name,
          schema: settings.schema,
          file,
          reason: err.message,
        });
      },
    );
    return { migration: migration.name, schema: settings.schema };
  }

  async close(): Promise<void> {
    // A start by hand still running (a long backfill) is given a moment, not waited for: it is
    // resumable, and `baton migrate start` (or the page) resumes it from its cursor.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.starting, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    const p = this.pool;
    this.pool = undefined;
    await p?.pool.close().catch(() => {});
  }

  private act(
    action: "complete" | "rollback",
    actor: string,
  ): Promise<{ migration: MigrationSummary; warnings: string[] }> {
    const run = this.acting.then(() => this.actNow(action, actor));
    this.acting = run.catch(() => {});
    return run;
  }

  private async actNow(
    action: "complete" | "rollback",
    actor: string,
  ): Promise<{ migration: MigrationSummary; warnings: string[] }> {
    const settings = await this.opts.settings();
    if (!settings)
      throw new BatonControlError(
        "BATON_MIGRATION_NOT_CONFIGURED",
        `baton.yaml has no migration section: there is no migration to ${action}`,
      );
    // Everything is checked before anything changes: the state database first (the releases),
    // then the application's.
    const situation = await this.situation();
    const db = migrationDatabase(settings, situation.release?.env ?? {});
    const migrator = this.migrator(settings, db);
    const { active } = await this.status(settings, db);
    const refusal = refusalOf(action, { ...situation, active });
    if (refusal) throw new BatonControlError(refusal.code, refusal.message);
    let result: MigrationResult;
    try {
      result = action === "complete" ? await migrator.complete() : await migrator.rollback();
    } catch (err) {
      if (err instanceof BatonControlError) throw err;
      if (err instanceof EngineError && err.code === "BATON_NO_ACTIVE_MIGRATION")
        throw new BatonControlError("BATON_NO_ACTIVE_MIGRATION", err.message);
      throw new BatonControlError(
        "BATON_MIGRATION_FAILED",
        `${action} of migration ${active!.name} failed: ${(err as Error).message}; it stays in progress: ${action} it again once the cause is fixed`,
        { cause: err },
      );
    }
    const event = action === "complete" ? "migration.completed" : "migration.rolled-back";
    this.opts.log?.(
      `migration ${result.name} ${action === "complete" ? "completed" : "rolled back"} by ${actor}`,
    );
    await this.opts.plane.audit
      .append({
        actor,
        action: event,
        service: this.opts.plane.service,
        details: {
          migration: result.name,
          schema: settings.schema,
          versionSchema: result.versionSchema,
          previousVersionSchema: result.previousVersionSchema,
          database: redactUrl(db.url),
          ...(result.warnings.length ? { warnings: result.warnings } : {}),
        },
      })
      .catch((err: Error) => {
        // Done on the application's database, which cannot be undone for want of an audit row:
        // said so, rather than "nothing was changed".
        throw new BatonControlError(
          "BATON_DATABASE_UNAVAILABLE",
          `migration ${result.name} was ${action === "complete" ? "completed" : "rolled back"}, but its audit event (${event}) could not be written: ${err.message}`,
          { cause: err },
        );
      });
    return { migration: summary(result), warnings: result.warnings };
  }

  /** The releases' side: the latest one, and what serves (with the environment it was released with). */
  private async situation(): Promise<Omit<MigrationSituation, "active">> {
    const { plane } = this.opts;
    const status = await plane.status();
    const released = status.serving
      ? await plane.store.latestOf(plane.service, status.serving.version)
      : undefined;
    const serving = status.serving
      ? { version: status.serving.version, env: released?.env ?? {}, releaseId: released?.id ?? null }
      : null;
    return {
      service: plane.service,
      release: status.release,
      serving,
      warm: status.warm ? { version: status.warm.version, until: status.warm.until } : null,
    };
  }

  private async status(settings: MigrationSettings, db: MigrationDatabase): Promise<MigrationStatusReport> {
    const migrator = this.migrator(settings, db);
    try {
      return await migrator.status();
    } catch (err) {
      if (err instanceof BatonControlError) throw err;
      // The engine's state table made by two sessions at once (a release's migrator and this
      // read, on a database that never had one): the loser finds it made on a second try.
      if ((err as { code?: string }).code === "23505") return migrator.status();
      throw err;
    }
  }

  private migrator(settings: MigrationSettings, db: MigrationDatabase): Migrator {
    if (this.pool?.url !== db.url) {
      void this.pool?.pool.close().catch(() => {});
      this.pool = { url: db.url, pool: migrationPool(db) };
    }
    return new Migrator(this.pool.pool, {
      schema: settings.schema,
      ...(settings.backfill ? { backfill: backfillOptionsOf(settings.backfill) } : {}),
      ...(this.opts.log ? { log: (l: string) => this.opts.log!(`migration: ${l}`) } : {}),
    });
  }
}

function activeView(record: MigrationRecord, s: Omit<MigrationSituation, "active">): ActiveMigrationView {
  const operations = ((record.migration as { operations?: OperationSpec[] }).operations ?? []).map(
    (spec, i) => ({
      index: i + 1,
      op: spec.op,
      summary: operationSummary(spec),
      started: Boolean((record.progress[String(i)] as { started?: boolean } | undefined)?.started),
    }),
  );
  return {
    ...summary(record),
    phase: operations.every((o) => o.started) ? "started" : "starting",
    release: startedBy(record, s),
    operations,
    backfills: backfillsOf(record),
  };
}

function settingsView(s: MigrationSettings): NonNullable<MigrationView["settings"]> {
  return {
    file: s.file,
    schema: s.schema,
    databaseEnv: s.databaseEnv,
    ...(s.backfill ? { backfill: s.backfill } : {}),
  };
}

function summary(r: MigrationRecord): MigrationSummary {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    versionSchema: r.versionSchema,
    previousVersionSchema: r.previousVersionSchema,
    startedAt: new Date(r.startedAt).toISOString(),
    endedAt: r.endedAt ? new Date(r.endedAt).toISOString() : null,
  };
}

/** The version schemas applications use, with the search_path each version puts first. */
function versionSchemas(report: MigrationStatusReport): VersionSchemaView[] {
  const of = (role: VersionSchemaView["role"], schema: string | null): VersionSchemaView => ({
    role,
    schema,
    searchPath: searchPathFor(schema, report.schema),
  });
  if (report.active)
    return [of("old", report.active.previousVersionSchema), of("new", report.active.versionSchema)];
  return [of("current", report.latestVersionSchema)];
}
