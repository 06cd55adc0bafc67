import { alterTable, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const dropColumn: LintRule = {
  id: "drop-column",
  summary: "DROP COLUMN breaks the running version if it still uses the column",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== "AT_DropColumn") continue;
      const column = `${relationName(alter.table)}.${cmd.name}`;
      yield {
        severity: "error",
        message: `DROP COLUMN ${column} breaks every query of the running version that names it, the moment it commits`,
        fix: `contract later: first release a version that no longer reads or writes ${column} (make it nullable or give it a default so that version can ignore it), then drop it once no running version uses it; add \`-- baton-lint-ignore drop-column\` above once that is so`,
      };
    }
  },
};
