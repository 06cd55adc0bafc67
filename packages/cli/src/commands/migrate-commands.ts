import type { MigrationResult, Migrator as MigratorType, SqlSnippet } from "@baton/migrate";
import type { Command } from "commander";

interface Common {
  databaseUrl?: string;
  schema: string;
  lockTimeout: string;
  json?: boolean;
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const clock = () => new Date().toISOString().slice(11, 19);

// The migration engine (its SQL parser, the PostgreSQL driver) loads when a migrate command runs.
const engine = () => import("@baton/migrate");

/** `baton migrate start|complete|rollback|status`: online PostgreSQL migrations. */
export function registerMigrateCommands(program: Command): void {
  const migrate = program
    .command("migrate")
    .description("online PostgreSQL migrations: expand/contract with versioned schemas");
  const common = (cmd: Command) =>
    cmd
      .option("--database-url <url>", "the database (default: DATABASE_URL)")
      .option("--schema <name>", "the schema of the tables", "public")
      .option("--lock-timeout <ms>", "how long one DDL statement may wait for its lock", "500")
      .option("--json", "print the result as JSON");

  common(
    migrate
      .command("start")
      .description("make the additive changes and present the new version as a schema of views")
      .argument("<file>", "migration file (pgroll format, YAML or JSON)"),
  ).action((file: string, o: Common) =>
    withMigrator(o, async (m) => {
      const { loadMigrationFile, checkSqlExpressions } = await engine();
      const migration = await loadMigrationFile(file);
      await checkSqlExpressions(migration);
      print(o, await m.start(migration), "started");
    }),
  );
  common(migrate.command("complete").description("remove what the old version needed; final names")).action(
    (o: Common) => withMigrator(o, async (m) => print(o, await m.complete(), "completed")),
  );
  common(migrate.command("rollback").description("undo the migration in progress (before complete)")).action(
    (o: Common) => withMigrator(o, async (m) => print(o, await m.rollback(), "rolled back")),
  );
  migrate
    .command("lint")
    .description("check SQL migrations (and migration files' sql operations) for locks and breaking changes")
    .argument("<paths...>", ".sql files, migration files (.yaml/.yml/.json) or directories of them")
    .option("--squawk", "also run squawk's rules")
    .option("--pg-version <n>", "the PostgreSQL major version the migrations run on", "15")
    .action(async (paths: string[], o: { squawk?: boolean; pgVersion: string }) => {
      const { lintFiles, formatFindings, lintExitCode, parseMigrationFile } = await engine();
      const report = await lintFiles(paths, {
        squawk: o.squawk === true,
        pgVersion: Number(o.pgVersion) || 15,
        extractSql: (file, text) => sqlOperations(parseMigrationFile, file, text),
      });
      out(formatFindings(report.findings, report.notes));
      process.exitCode = lintExitCode(report.findings);
    });
  common(migrate.command("status").description("the migration in progress and the history")).action(
    (o: Common) =>
      withMigrator(o, async (m) => {
        const s = await m.status();
        if (o.json) return out(JSON.stringify(s, null, 2));
        out(
          `schema ${s.schema}: ${s.active ? `migration ${s.active.name} in progress` : "no migration in progress"}`,
        );
        if (s.latestVersionSchema)
          out(`newest version schema: ${s.latestVersionSchema} (search_path for new code)`);
        for (const r of s.history)
          out(`  ${r.startedAt.slice(0, 19).replace("T", " ")}  ${r.name}  ${r.status.replace("_", " ")}`);
      }),
  );
}

/** The raw SQL of a migration file's sql operations, for the lint. */
function sqlOperations(
  parseMigrationFile: Awaited<ReturnType<typeof engine>>["parseMigrationFile"],
  file: string,
  text: string,
): SqlSnippet[] {
  const migration = parseMigrationFile(text, file);
  return migration.operations.flatMap((op, i) =>
    op.op === "sql"
      ? [{ sql: op.up, where: `operation ${i + 1} (sql.up)` }] // `down` only ever undoes `up`
      : [],
  );
}

async function withMigrator(o: Common, fn: (m: MigratorType) => Promise<void>): Promise<void> {
  const url = o.databaseUrl ?? process.env.DATABASE_URL;
  if (!url) throw new Error("no database: give --database-url or set DATABASE_URL");
  const { Migrator, pgPool } = await engine();
  const pool = pgPool(url);
  try {
    await fn(
      new Migrator(pool, {
        schema: o.schema,
        ddl: { lockTimeoutMs: Number(o.lockTimeout) || 500 },
        log: (line) => process.stderr.write(`${clock()}  ${line}\n`),
      }),
    );
  } finally {
    await pool.close();
  }
}

function print(o: Common, r: MigrationResult, what: string): void {
  if (o.json) return out(JSON.stringify(r, null, 2));
  if (what === "rolled back" && r.warnings.length > 0) {
    // Not "rolled back" plainly: part of the migration stays, and the next start may trip on it.
    out(`rolled back ${r.name} on ${r.schema}, except what cannot be undone:`);
    for (const w of r.warnings) out(`  ${w}`);
    return;
  }
  out(`${what} ${r.name} on ${r.schema}; version schema ${r.versionSchema}`);
  for (const w of r.warnings) process.stderr.write(`baton: warning: ${w}\n`);
}
