import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import {
  type BackfillProgress,
  loadMigrationFile,
  type MigrationStatusReport,
  Migrator,
  pgPool,
  searchPathFor,
} from "@baton/migrate";
import { BatonControlError } from "../errors.js";
import { type MigrationSettings, migrationDatabase } from "../migration/migration-database.js";
import { modelOf, schemaBreaks } from "./schema-compatibility.js";

const SEARCH_PATH_ENV = "BATON_SEARCH_PATH";

/**
 * Where a version that starts no migration of its own runs. A new one: the newest version schema.
 * One released before (its environment has the search path it ran on: a rollback, a re-release):
 * that same one while it still exists (a migration in progress keeps its previous version schema);
 * once migrations completed since, the newest, if what the version read is still all there; if
 * not (a column renamed or dropped since), the release is refused: the version cannot run on this
 * database any more, and starting it would fail its requests.
 */
function searchPathForKnownVersion(
  status: MigrationStatusReport,
  schema: string,
  released: string | undefined,
  version: string | undefined,
): string {
  const latest = searchPathFor(status.latestVersionSchema, schema);
  if (!released || released === latest) return latest;
  const { active } = status;
  if (active) {
    const kept = [
      searchPathFor(active.previousVersionSchema, schema),
      searchPathFor(active.versionSchema, schema),
    ];
    if (kept.includes(released)) return released;
  }
  const then = modelOf(released, status);
  if (!then) return latest; // released against a schema these records do not know: as before
  const now = active
    ? active.before
    : (status.history.filter((r) => r.status === "completed").at(-1)?.after ?? then);
  const breaks = schemaBreaks(then, now);
  if (breaks.length === 0) return active ? searchPathFor(active.previousVersionSchema, schema) : latest;
  throw new BatonControlError(
    "BATON_MIGRATION_CONTRACTED",
    `${version ?? "this version"} was released against search_path ${released}, and migrations completed since changed what it reads (${breaks.slice(0, 5).join("; ")}${breaks.length > 5 ? "; …" : ""}): it cannot run on this database any more, and nothing was started. A completed migration is not undone by a rollback: release a version built for the current schema instead`,
  );
}

/** The audit events of a release's migration (the dashboard's Complete and Roll back add theirs). */
export type MigrationAction = "migration.started" | "migration.completed" | "migration.rolled-back";

/** Set in a release's environment when the release started a migration: its name. */
export const MIGRATION_ENV = "BATON_MIGRATION";

const nameOf = (path: string) => basename(path).replace(/\.(ya?ml|json)$/i, "");

export type { MigrationSettings } from "../migration/migration-database.js";

/** What a release does with the migration its baton.yaml names. */
export interface ReleaseMigrationHooks {
  /** Before the new instances start; returns the environment that points them at the new version. */
  start(release: {
    cwd: string;
    env?: Record<string, string>;
    version?: string;
  }): Promise<Record<string, string>>;
  /** Once the old version has fully drained. */
  complete(): Promise<void>;
  /** When the release is rolled back, after the new instances have stopped. */
  rollback(): Promise<void>;
}

/**
 * The database schema change a release needs, run by its lifecycle: `start` before the new
 * version's instances start (they get `BATON_SEARCH_PATH` and `PGOPTIONS` naming the new version
 * schema), `complete` only after the old version has drained, `rollback` with the release's
 * rollback. The database is the one the application uses: `migration.databaseEnv` (default
 * DATABASE_URL) from the release's environment, else from the control plane's.
 */
export function releaseMigration(
  settings: MigrationSettings,
  env: Record<string, string>,
  log?: (line: string) => void,
  /** Told after every batch of a backfill how far it has got (the dashboard's progress bar). */
  onProgress?: (progress: BackfillProgress) => void,
  /** Each change of the schema, for the audit log (the release's actor makes it). */
  record?: (action: MigrationAction, details: Record<string, unknown>) => Promise<void>,
): ReleaseMigrationHooks {
  const withMigrator = async <T>(fn: (m: Migrator) => Promise<T>): Promise<T> => {
    const pool = pgPool(migrationDatabase(settings, env).url, 3);
    try {
      return await fn(
        new Migrator(pool, {
          schema: settings.schema,
          ...(settings.backfill ? { backfill: backfillOptionsOf(settings.backfill) } : {}),
          ...(log ? { log: (l) => log(`migration: ${l}`) } : {}),
          ...(onProgress ? { onProgress } : {}),
        }),
      );
    } finally {
      await pool.close();
    }
  };
  return {
    async start(release) {
      const path = resolve(release.cwd, settings.file);
      return withMigrator(async (m): Promise<Record<string, string>> => {
        const status = await m.status();
        if (
          !existsSync(path) ||
          status.history.some((r) => r.status === "completed" && r.name === nameOf(path))
        ) {
          // Nothing to change for this release: it runs against the newest version schema, or,
          // for a version released before (a rollback), against the one it was released with.
          const sp = searchPathForKnownVersion(
            status,
            settings.schema,
            env[SEARCH_PATH_ENV],
            release.version,
          );
          return { [SEARCH_PATH_ENV]: sp, PGOPTIONS: `-c search_path=${sp}` };
        }
        const started = await m.start(await loadMigrationFile(path));
        env[MIGRATION_ENV] = started.name; // complete and rollback of this release act on it
        const sp = searchPathFor(started.versionSchema, settings.schema);
        log?.(`migration ${started.name} started: new instances use search_path ${sp}`);
        await record?.("migration.started", {
          migration: started.name,
          schema: settings.schema,
          versionSchema: started.versionSchema,
        });
        return { BATON_SEARCH_PATH: sp, PGOPTIONS: `-c search_path=${sp}`, [MIGRATION_ENV]: started.name };
      });
    },
    // Only the migration this release started (its name is in the release's environment) is
    // completed or rolled back with it; one started by hand is left alone, and a release that
    // started none has nothing to do (not "no migration is in progress").
    async complete() {
      await withMigrator(async (m) => {
        if (!env[MIGRATION_ENV] || (await m.status()).active?.name !== env[MIGRATION_ENV]) return;
        const done = await m.complete();
        await record?.("migration.completed", { migration: done.name, schema: settings.schema });
      });
    },
    async rollback() {
      await withMigrator(async (m) => {
        if (!env[MIGRATION_ENV] || (await m.status()).active?.name !== env[MIGRATION_ENV]) return;
        const undone = await m.rollback();
        await record?.("migration.rolled-back", {
          migration: undone.name,
          schema: settings.schema,
          ...(undone.warnings.length > 0 ? { warnings: undone.warnings } : {}),
        });
      });
    },
  };
}

/** baton.yaml's `migration.backfill` as the engine takes it. */
export function backfillOptionsOf(backfill: NonNullable<MigrationSettings["backfill"]>): {
  batchSize?: number;
  delayMs?: number;
} {
  return {
    ...(backfill.batchSize !== undefined ? { batchSize: backfill.batchSize } : {}),
    ...(backfill.delay !== undefined ? { delayMs: backfill.delay } : {}),
  };
}
