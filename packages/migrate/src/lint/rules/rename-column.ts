import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const renameColumn: LintRule = {
  id: "rename-column",
  summary: "RENAME COLUMN breaks the running version, which still uses the old name",
  *check(node, ctx) {
    const rename = nodeOf(node, "RenameStmt");
    if (rename?.renameType !== "OBJECT_COLUMN" || rename.relationType !== "OBJECT_TABLE") return;
    if (ctx.state.isNew(rename.relation)) return;
    const table = relationName(rename.relation);
    yield {
      severity: "error",
      message: `RENAME COLUMN ${table}.${rename.subname} TO ${rename.newname} breaks the running version the moment it commits: its queries still name ${rename.subname}`,
      fix: `expand/contract: Baton's rename_column operation (each version sees its own name through its versioned schema); by hand: add ${rename.newname}, keep both in sync with a trigger, backfill, and drop ${rename.subname} once no running version uses it`,
    };
  },
};
