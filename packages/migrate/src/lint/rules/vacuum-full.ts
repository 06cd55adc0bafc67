import { nodeOf, optionNames, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const vacuumFull: LintRule = {
  id: "vacuum-full",
  summary: "VACUUM FULL rewrites tables under ACCESS EXCLUSIVE",
  *check(node) {
    const vacuum = nodeOf(node, "VacuumStmt");
    if (!vacuum?.is_vacuumcmd || !optionNames(vacuum.options).includes("full")) return;
    const tables = (vacuum.rels ?? []).map((r) => relationName(nodeOf(r, "VacuumRelation")?.relation));
    yield {
      severity: "error",
      message: `VACUUM FULL rewrites ${tables.length ? tables.join(", ") : "every table of the database"} under ACCESS EXCLUSIVE: reads and writes wait until it finishes`,
      fix: "plain VACUUM (reads and writes go on) makes the space reusable; to give it back to the OS online, use pg_repack or pg_squeeze",
    };
  },
};
