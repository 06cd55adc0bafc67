import { alterTable, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const setLoggedUnlogged: LintRule = {
  id: "set-logged-unlogged",
  summary: "SET LOGGED / SET UNLOGGED rewrites the table under ACCESS EXCLUSIVE",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== "AT_SetLogged" && cmd.subtype !== "AT_SetUnLogged") continue;
      const what = cmd.subtype === "AT_SetLogged" ? "SET LOGGED" : "SET UNLOGGED";
      yield {
        severity: "error",
        message: `${what} rewrites ${relationName(alter.table)}${cmd.subtype === "AT_SetLogged" ? " (through the WAL)" : ""} under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite`,
        fix: "there is no online form: do it while the table is small, or create a new table with the wanted persistence, copy rows over in batches, and swap the two by rename in a short window",
      };
    }
  },
};
