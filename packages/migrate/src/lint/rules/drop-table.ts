import { listName, nodeOf } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const dropTable: LintRule = {
  id: "drop-table",
  summary: "DROP TABLE breaks the running version if it still uses the table",
  *check(node, ctx) {
    const drop = nodeOf(node, "DropStmt");
    if (drop?.removeType !== "OBJECT_TABLE") return;
    const tables = (drop.objects ?? []).map(listName).filter((t) => !ctx.state.isNew(t));
    if (tables.length === 0) return;
    yield {
      severity: "error",
      message: `DROP TABLE ${tables.join(", ")} breaks every query of the running version on ${tables.length > 1 ? "them" : "it"}, the moment it commits`,
      fix: `Baton's drop_table operation (hidden from the new version at start, dropped at complete once the old version is gone); by hand: drop only after no running version uses it, then add \`-- baton-lint-ignore drop-table\` above`,
    };
  },
};
