import type { SqlPool, SqlSession } from "@baton/migrate";
import pg from "pg";
import { BatonControlError } from "../errors.js";
import type { ServiceFile } from "../service-file.js";

export type MigrationSettings = NonNullable<ServiceFile["migration"]>;

/** The application's database a migration runs on, and where its URL was found (for messages). */
export interface MigrationDatabase {
  url: string;
  /** e.g. "DATABASE_URL of the release's environment" */
  from: string;
}

/**
 * The database the application uses: `migration.databaseEnv` (default DATABASE_URL) from the
 * release's environment, else from the control plane's own. The one rule for the release's
 * hooks and the dashboard's view alike.
 */
export function migrationDatabase(
  settings: MigrationSettings,
  releaseEnv: Record<string, string>,
  processEnv: NodeJS.ProcessEnv = process.env,
): MigrationDatabase {
  const name = settings.databaseEnv;
  const fromRelease = releaseEnv[name];
  if (fromRelease) return { url: fromRelease, from: `${name} of the release's environment` };
  const fromProcess = processEnv[name];
  if (fromProcess) return { url: fromProcess, from: `${name} of the control plane's environment` };
  throw new BatonControlError(
    "BATON_MIGRATION_NO_DATABASE",
    `baton.yaml names a migration but ${name} is set neither in the release's environment (--env) nor in the control plane's`,
  );
}

/** A database URL without its password, fit for a message or a page. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    // libpq also takes the password as a parameter (?password=...).
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, "***");
    return u.toString();
  } catch {
    return "(a database URL that does not parse)";
  }
}

/** How long a connection attempt may take before the database counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * A pool on the application's database for the control plane's own reads and actions: a
 * connection that cannot be made is BATON_MIGRATION_DATABASE_UNAVAILABLE naming the database
 * (nothing ran on it), within 5 s rather than a TCP timeout.
 */
export function migrationPool(db: MigrationDatabase, max = 2): SqlPool {
  const pool = new pg.Pool({ connectionString: db.url, max, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  pool.on("error", () => {}); // an idle connection lost must not crash the control plane
  return {
    async withSession<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw new BatonControlError(
          "BATON_MIGRATION_DATABASE_UNAVAILABLE",
          `cannot reach the application's database at ${redactUrl(db.url)} (${db.from}): ${(err as Error).message}; nothing was changed`,
          { cause: err },
        );
      }
      try {
        return await fn({
          query: async <R>(text: string, params?: unknown[]) => {
            const r = await client.query(text, params);
            return { rows: r.rows as R[], rowCount: r.rowCount };
          },
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
