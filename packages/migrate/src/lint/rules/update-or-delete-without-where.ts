import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const updateOrDeleteWithoutWhere: LintRule = {
  id: "update-or-delete-without-where",
  summary: "UPDATE / DELETE of a whole table in one statement: one long transaction locking every row",
  *check(node, ctx) {
    const update = nodeOf(node, "UpdateStmt");
    const remove = nodeOf(node, "DeleteStmt");
    const stmt = update ?? remove;
    if (!stmt || stmt.whereClause || ctx.state.isNew(stmt.relation)) return;
    const verb = update ? "UPDATE" : "DELETE FROM";
    const table = relationName(stmt.relation);
    yield {
      severity: "warning",
      message: `${verb} ${table} without WHERE touches every row in one transaction: the running version's writes to those rows wait until it commits, and dead rows and WAL pile up`,
      fix: `batch it: ${verb} ${table} ... WHERE id > $last AND id <= $last + 5000, repeated in separate transactions (Baton's operations backfill this way)`,
    };
  },
};
