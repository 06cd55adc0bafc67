export { type BackfillOptions, type BackfillProgress, DEFAULT_BACKFILL, progressKey } from "./backfill.js";
export { type DdlOptions, DEFAULT_DDL, runDdl } from "./ddl.js";
export { EngineError } from "./engine-error.js";
export { MigrationError } from "./errors.js";
export type { IrreversibleOperation } from "./irreversible-sql.js";
export { formatFindings, lintExitCode } from "./lint/format-findings.js";
export { LintError, LintFileUnreadableError, LintUnsupportedFileError } from "./lint/lint-error.js";
export { type LintFilesOptions, lintFiles, type SqlSnippet } from "./lint/lint-files.js";
export type { LintFinding, LintReport, LintSeverity } from "./lint/lint-finding.js";
export type { LintRule, RuleContext, RuleHit } from "./lint/lint-rule.js";
export { DEFAULT_PG_VERSION, type LintOptions, lintSql, lintSqlSnippet } from "./lint/lint-sql.js";
export type { TransactionMode } from "./lint/lint-state.js";
export { LINT_RULES } from "./lint/rules/all-rules.js";
export {
  checkSqlExpressions,
  loadMigrationFile,
  type MigrationFile,
  type OperationSpec,
  parseMigrationFile,
} from "./migration-file.js";
export {
  type MigrationResult,
  type MigrationStatusReport,
  Migrator,
  type MigratorOptions,
} from "./migrator.js";
export type { Operation, OperationContext } from "./operations/operation.js";
export { OPERATIONS } from "./operations/registry.js";
export type { ColumnModel, SchemaModel, TableModel } from "./schema/schema-model.js";
export { pgPool, type SqlPool, type SqlSession } from "./sql-client.js";
export type { MigrationRecord, MigrationStatus } from "./state/migration-state.js";
export { searchPathFor } from "./version-search-path.js";
