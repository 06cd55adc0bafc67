import type { LintRule } from "../lint-rule.js";
import { addColumnNotNullWithoutDefault } from "./add-column-not-null-without-default.js";
import { addColumnRewritesTable } from "./add-column-rewrites-table.js";
import { addConstraintBuildsIndex } from "./add-constraint-builds-index.js";
import { alterColumnType } from "./alter-column-type.js";
import { cluster } from "./cluster.js";
import { concurrentlyInTransaction } from "./concurrently-in-transaction.js";
import { constraintWithoutNotValid } from "./constraint-without-not-valid.js";
import { createIndexNonConcurrently } from "./create-index-non-concurrently.js";
import { dropColumn } from "./drop-column.js";
import { dropIndexNonConcurrently } from "./drop-index-non-concurrently.js";
import { dropTable } from "./drop-table.js";
import { lockTable } from "./lock-table.js";
import { lockTimeoutMissing } from "./lock-timeout-missing.js";
import { reindexNonConcurrently } from "./reindex-non-concurrently.js";
import { renameColumn } from "./rename-column.js";
import { renameTable } from "./rename-table.js";
import { setLoggedUnlogged } from "./set-logged-unlogged.js";
import { setNotNull } from "./set-not-null.js";
import { truncate } from "./truncate.js";
import { updateOrDeleteWithoutWhere } from "./update-or-delete-without-where.js";
import { vacuumFull } from "./vacuum-full.js";
import { validateInSameTransaction } from "./validate-in-same-transaction.js";

/** Every rule, in the order their findings on one statement are listed. */
export const LINT_RULES: readonly LintRule[] = [
  lockTimeoutMissing,
  concurrentlyInTransaction,
  createIndexNonConcurrently,
  dropIndexNonConcurrently,
  reindexNonConcurrently,
  addColumnRewritesTable,
  addColumnNotNullWithoutDefault,
  alterColumnType,
  setNotNull,
  constraintWithoutNotValid,
  validateInSameTransaction,
  addConstraintBuildsIndex,
  renameColumn,
  renameTable,
  dropColumn,
  dropTable,
  truncate,
  setLoggedUnlogged,
  vacuumFull,
  cluster,
  lockTable,
  updateOrDeleteWithoutWhere,
];
