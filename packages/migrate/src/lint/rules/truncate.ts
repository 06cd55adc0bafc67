import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const truncate: LintRule = {
  id: "truncate",
  summary: "TRUNCATE takes ACCESS EXCLUSIVE and removes the rows the running version reads",
  *check(node, ctx) {
    const stmt = nodeOf(node, "TruncateStmt");
    if (!stmt) return;
    const tables = (stmt.relations ?? [])
      .map((r) => nodeOf(r, "RangeVar"))
      .filter((t) => !ctx.state.isNew(t));
    if (tables.length === 0) return;
    yield {
      severity: "error",
      message: `TRUNCATE ${tables.map(relationName).join(", ")}${stmt.behavior === "DROP_CASCADE" ? " CASCADE (and every table referencing them)" : ""} takes ACCESS EXCLUSIVE and empties tables the running version still reads`,
      fix: "if the rows really must go, DELETE them in batches of a few thousand, each in its own transaction; otherwise leave the table to a contract step after no version uses it",
    };
  },
};
