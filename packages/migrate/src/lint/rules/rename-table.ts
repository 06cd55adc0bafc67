import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const renameTable: LintRule = {
  id: "rename-table",
  summary: "RENAME TO / SET SCHEMA of a table breaks the running version, which still uses the old name",
  *check(node, ctx) {
    const rename = nodeOf(node, "RenameStmt");
    const move = nodeOf(node, "AlterObjectSchemaStmt");
    const table =
      rename?.renameType === "OBJECT_TABLE"
        ? rename.relation
        : move?.objectType === "OBJECT_TABLE"
          ? move.relation
          : undefined;
    if (!table || ctx.state.isNew(table)) return;
    const to = rename ? `RENAME TO ${rename.newname}` : `SET SCHEMA ${move?.newschema}`;
    yield {
      severity: "error",
      message: `ALTER TABLE ${relationName(table)} ${to} breaks the running version the moment it commits: its queries still name ${relationName(table)}`,
      fix: `expand/contract: Baton's rename_table operation (each version sees its own name through its versioned schema); by hand: rename, and leave a simple view with the old name (automatically updatable) until no running version uses it`,
    };
  },
};
