import type { AlterTableCmd } from "libpg-query";
import { addedConstraints, alterTable, names, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const constraintWithoutNotValid: LintRule = {
  id: "constraint-without-not-valid",
  summary: "ADD CHECK / FOREIGN KEY without NOT VALID checks every row while locking the table",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    const table = relationName(alter.table);
    for (const cmd of alter.cmds) {
      const inline = cmd.subtype === "AT_AddColumn";
      for (const { constraint: c, column } of addedChecksAndKeys(cmd)) {
        const name = c.conname ?? "<name>";
        const foreign = c.contype === "CONSTR_FOREIGN";
        const what = foreign
          ? `FOREIGN KEY ${column ? `on ${column} ` : `(${names(c.fk_attrs).join(", ")}) `}REFERENCES ${relationName(c.pktable)}`
          : `CHECK on ${column ?? table}`;
        const locks = foreign
          ? `SHARE ROW EXCLUSIVE on ${table} and on ${relationName(c.pktable)}: writes to both wait`
          : `ACCESS EXCLUSIVE on ${table}: reads and writes wait`;
        yield {
          severity: "error",
          message: `${inline ? `ADD COLUMN with an inline ${what}` : `ADD CONSTRAINT ${what}`} checks every row of ${table} while holding ${locks} for the whole scan`,
          fix: `${inline ? `ADD COLUMN ${column} without it; then ` : ""}ALTER TABLE ${table} ADD CONSTRAINT ${name} ... NOT VALID (checks new rows only, brief lock); then, in a separate transaction, ALTER TABLE ${table} VALIDATE CONSTRAINT ${name} (reads and writes go on)`,
          at: c.location,
        };
      }
    }
  },
};

/** CHECK and FOREIGN KEY constraints the subcommand adds and validates at once. */
function addedChecksAndKeys(cmd: AlterTableCmd) {
  return addedConstraints(cmd).filter(
    ({ constraint: c }) =>
      (c.contype === "CONSTR_CHECK" || c.contype === "CONSTR_FOREIGN") && !c.skip_validation,
  );
}
