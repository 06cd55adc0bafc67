import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { loadMigrationFile, Migrator, pgPool, searchPathFor } from "@baton/migrate";
import { BatonControlError } from "../errors.js";
import type { ServiceFile } from "../service-file.js";

/** Set in a release's environment when the release started a migration: its name. */
export const MIGRATION_ENV = "BATON_MIGRATION";

const nameOf = (path: string) => basename(path).replace(/\.(ya?ml|json)$/i, "");

export type MigrationSettings = NonNullable<ServiceFile["migration"]>;

/** What a release does with the migration its baton.yaml names. */
export interface ReleaseMigrationHooks {
  /** Before the new instances start; returns the environment that points them at the new version. */
  start(release: { cwd: string; env?: Record<string, string> }): Promise<Record<string, string>>;
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
): ReleaseMigrationHooks {
  const url = () => {
    const u = env[settings.databaseEnv] ?? process.env[settings.databaseEnv];
    if (!u)
      throw new BatonControlError(
        "BATON_MIGRATION_NO_DATABASE",
        `baton.yaml names a migration but ${settings.databaseEnv} is set neither in the release's environment (--env) nor in the control plane's`,
      );
    return u;
  };
  const withMigrator = async <T>(fn: (m: Migrator) => Promise<T>): Promise<T> => {
    const pool = pgPool(url(), 3);
    try {
      return await fn(
        new Migrator(pool, {
          schema: settings.schema,
          ...(log ? { log: (l) => log(`migration: ${l}`) } : {}),
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
          // Nothing to change for this release: it runs against the newest version schema.
          const latest = searchPathFor(status.latestVersionSchema, settings.schema);
          return { BATON_SEARCH_PATH: latest, PGOPTIONS: `-c search_path=${latest}` };
        }
        const record = await m.start(await loadMigrationFile(path));
        env[MIGRATION_ENV] = record.name; // complete and rollback of this release act on it
        const sp = searchPathFor(record.versionSchema, settings.schema);
        log?.(`migration ${record.name} started: new instances use search_path ${sp}`);
        return { BATON_SEARCH_PATH: sp, PGOPTIONS: `-c search_path=${sp}`, [MIGRATION_ENV]: record.name };
      });
    },
    // Only the migration this release started (its name is in the release's environment) is
    // completed or rolled back with it; one started by hand is left alone.
    async complete() {
      await withMigrator(async (m) => {
        if ((await m.status()).active?.name === env[MIGRATION_ENV]) await m.complete();
      });
    },
    async rollback() {
      await withMigrator(async (m) => {
        if ((await m.status()).active?.name === env[MIGRATION_ENV]) await m.rollback();
      });
    },
  };
}
