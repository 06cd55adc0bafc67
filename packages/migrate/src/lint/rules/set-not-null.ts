import { alterTable, names, nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const setNotNull: LintRule = {
  id: "set-not-null",
  summary: "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, unless a validated CHECK proves it",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    const table = relationName(alter.table);
    for (const cmd of alter.cmds) {
      const constraint = cmd.subtype === "AT_AddConstraint" ? nodeOf(cmd.def, "Constraint") : undefined;
      // SET NOT NULL, or PostgreSQL 18's ADD CONSTRAINT ... NOT NULL col (safe when NOT VALID).
      const columns =
        cmd.subtype === "AT_SetNotNull"
          ? [cmd.name]
          : constraint?.contype === "CONSTR_NOTNULL" && !constraint.skip_validation
            ? names(constraint.keys)
            : [];
      for (const column of columns) {
        if (ctx.state.isProvenNotNull(alter.table, column)) continue;
        const check = `${alter.table?.relname ?? "t"}_${column}_not_null`;
        yield {
          severity: "error",
          message: `SET NOT NULL on ${table}.${column} scans the whole table for NULLs under ACCESS EXCLUSIVE: reads and writes wait for the scan`,
          fix:
            ctx.pgVersion >= 12
              ? `ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${column} IS NOT NULL) NOT VALID; then, in a separate transaction, ALTER TABLE ${table} VALIDATE CONSTRAINT ${check}; then SET NOT NULL uses that check instead of scanning (drop the check afterwards)`
              : `before PostgreSQL 12 SET NOT NULL always scans: keep a CHECK (${column} IS NOT NULL) added NOT VALID and then validated, instead of NOT NULL`,
        };
      }
    }
  },
};
