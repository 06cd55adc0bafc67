export { type BackfillOptions, DEFAULT_BACKFILL } from "./backfill.js";
export { type DdlOptions, DEFAULT_DDL, runDdl } from "./ddl.js";
export { EngineError } from "./engine-error.js";
export { MigrationError } from "./errors.js";
export {
  checkSqlExpressions,
  loadMigrationFile,
  type MigrationFile,
  type OperationSpec,
  parseMigrationFile,
} from "./migration-file.js";
export { type MigrationStatusReport, Migrator, type MigratorOptions } from "./migrator.js";
export type { Operation, OperationContext } from "./operations/operation.js";
export { OPERATIONS } from "./operations/registry.js";
export type { ColumnModel, SchemaModel, TableModel } from "./schema/schema-model.js";
export { pgPool, type SqlPool, type SqlSession } from "./sql-client.js";
export type { MigrationRecord, MigrationStatus } from "./state/migration-state.js";
export { searchPathFor } from "./version-search-path.js";
