import { listName, nodeOf } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const dropIndexNonConcurrently: LintRule = {
  id: "drop-index-non-concurrently",
  summary: "DROP INDEX without CONCURRENTLY blocks reads and writes of the index's table",
  *check(node) {
    const drop = nodeOf(node, "DropStmt");
    if (drop?.removeType !== "OBJECT_INDEX" || drop.concurrent) return;
    const indexes = (drop.objects ?? []).map(listName);
    // CONCURRENTLY takes one index per statement and no CASCADE.
    const each = indexes.map((i) => `DROP INDEX CONCURRENTLY ${drop.missing_ok ? "IF EXISTS " : ""}${i};`);
    yield {
      severity: "error",
      message: `DROP INDEX ${indexes.join(", ")} without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table: reads and writes wait until the drop is done, and first behind any running query on it`,
      fix: `${each.join(" ")} — each on its own, outside a transaction block`,
    };
  },
};
