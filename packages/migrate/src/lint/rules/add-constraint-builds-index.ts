import { addedConstraints, alterTable, names, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const addConstraintBuildsIndex: LintRule = {
  id: "add-constraint-builds-index",
  summary: "ADD UNIQUE / PRIMARY KEY / EXCLUDE builds an index under ACCESS EXCLUSIVE (use USING INDEX)",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    const table = relationName(alter.table);
    const bare = alter.table?.relname ?? "t";
    for (const cmd of alter.cmds) {
      for (const { constraint: c, column } of addedConstraints(cmd)) {
        const kind =
          c.contype === "CONSTR_PRIMARY"
            ? "PRIMARY KEY"
            : c.contype === "CONSTR_UNIQUE"
              ? "UNIQUE"
              : c.contype === "CONSTR_EXCLUSION"
                ? "EXCLUDE"
                : undefined;
        // USING INDEX attaches an index built beforehand (CONCURRENTLY): no build under the lock.
        if (!kind || c.indexname) continue;
        const message = `${column ? `ADD COLUMN ${column} ${kind}` : `ADD ${kind}`} builds its index while holding ACCESS EXCLUSIVE on ${table}: reads and writes wait for the whole build`;
        if (kind === "EXCLUDE") {
          yield {
            severity: "error",
            message,
            fix: "there is no online form of an exclusion constraint: add it while the table is small, or build a new table with it and move the data in batches",
            at: c.location,
          };
          continue;
        }
        const columns = column ? [column] : names(c.keys);
        const index = c.conname ?? `${bare}_${kind === "PRIMARY KEY" ? "pkey" : `${columns.join("_")}_key`}`;
        yield {
          severity: "error",
          message,
          fix: `${column ? `ADD COLUMN ${column} without it; then ` : ""}CREATE UNIQUE INDEX CONCURRENTLY ${index} ON ${table} (${columns.join(", ")}); then ALTER TABLE ${table} ADD CONSTRAINT ${index} ${kind} USING INDEX ${index} (a brief lock)${kind === "PRIMARY KEY" ? "; the columns must be NOT NULL already, or this scans (see set-not-null)" : ""}`,
          at: c.location,
        };
      }
    }
  },
};
