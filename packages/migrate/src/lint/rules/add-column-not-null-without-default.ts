import { alterTable, nodeOf, relationName, typeBaseName, typeDisplay } from "../ast.js";
import type { LintRule } from "../lint-rule.js";
import { SERIAL_TYPES } from "../volatility.js";

export const addColumnNotNullWithoutDefault: LintRule = {
  id: "add-column-not-null-without-default",
  summary:
    "ADD COLUMN ... NOT NULL without a default fails on existing rows and breaks INSERTs of the running version",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    for (const cmd of alter.cmds) {
      const column = cmd.subtype === "AT_AddColumn" ? nodeOf(cmd.def, "ColumnDef") : undefined;
      if (!column) continue;
      const kinds = new Set((column.constraints ?? []).map((n) => nodeOf(n, "Constraint")?.contype));
      const notNull = column.is_not_null || kinds.has("CONSTR_NOTNULL") || kinds.has("CONSTR_PRIMARY");
      // Defaults, identities, generated values and serials all give existing rows a value.
      const filled =
        kinds.has("CONSTR_DEFAULT") ||
        kinds.has("CONSTR_IDENTITY") ||
        kinds.has("CONSTR_GENERATED") ||
        SERIAL_TYPES.has(typeBaseName(column.typeName));
      if (!notNull || filled) continue;
      const name = column.colname ?? "?";
      const table = relationName(alter.table);
      yield {
        severity: "error",
        message: `ADD COLUMN ${name} NOT NULL without a DEFAULT fails if ${table} has any row (each would hold NULL), and once added, INSERTs from the running version, which does not set ${name}, fail`,
        fix: `ADD COLUMN ${name} ${typeDisplay(column.typeName)} nullable (or with a non-volatile DEFAULT); backfill in batches; then make it NOT NULL through a validated CHECK (${name} IS NOT NULL) (see set-not-null)`,
        at: column.location,
      };
    }
  },
};
