import type { OperationName, OperationSpec } from "../migration-file-schema.js";
import { addColumn } from "./add-column.js";
import { alterColumn } from "./alter-column.js";
import { createConstraint } from "./create-constraint.js";
import { createIndex } from "./create-index.js";
import { createTable } from "./create-table.js";
import { dropColumn } from "./drop-column.js";
import { dropConstraint, dropMultiColumnConstraint } from "./drop-constraint.js";
import { dropIndex } from "./drop-index.js";
import { dropTable } from "./drop-table.js";
import type { Operation } from "./operation.js";
import { rawSql } from "./raw-sql.js";
import { renameColumn } from "./rename-column.js";
import { renameConstraint } from "./rename-constraint.js";
import { renameTable } from "./rename-table.js";
import { setReplicaIdentity } from "./set-replica-identity.js";

/**
 * Every operation of the file format, by its name in a migration file, with what carries it out.
 * Checked by the compiler: an operation the parser accepts cannot lack its implementation here.
 */
export const OPERATIONS = {
  create_table: createTable,
  drop_table: dropTable,
  rename_table: renameTable,
  add_column: addColumn,
  drop_column: dropColumn,
  rename_column: renameColumn,
  alter_column: alterColumn,
  create_index: createIndex,
  drop_index: dropIndex,
  create_constraint: createConstraint,
  drop_constraint: dropConstraint,
  drop_multicolumn_constraint: dropMultiColumnConstraint,
  rename_constraint: renameConstraint,
  set_replica_identity: setReplicaIdentity,
  sql: rawSql,
} satisfies { [K in OperationName]: Operation<Extract<OperationSpec, { op: K }>> };
