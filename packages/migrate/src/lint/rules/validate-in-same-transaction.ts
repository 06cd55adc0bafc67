import { alterTable, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const validateInSameTransaction: LintRule = {
  id: "validate-in-same-transaction",
  summary: "VALIDATE CONSTRAINT in the transaction that added it NOT VALID scans under the ADD's lock",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    const table = relationName(alter.table);
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== "AT_ValidateConstraint") continue;
      if (!ctx.state.addedNotValidInThisTransaction(alter.table, cmd.name)) continue;
      yield {
        severity: "error",
        message: `VALIDATE CONSTRAINT ${cmd.name} runs in the same transaction as its ADD CONSTRAINT ... NOT VALID (${ctx.state.transactionReason}), whose lock on ${table} is held until commit: the validation scan runs under it, so NOT VALID gains nothing`,
        fix: `commit in between: run ALTER TABLE ${table} VALIDATE CONSTRAINT ${cmd.name} in a separate transaction (with Baton, in a separate sql operation or migration)`,
      };
    }
  },
};
