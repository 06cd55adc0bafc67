import { nodeOf, optionNames, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const reindexNonConcurrently: LintRule = {
  id: "reindex-non-concurrently",
  summary: "REINDEX without CONCURRENTLY blocks writes (and reads using the index) during the rebuild",
  *check(node, ctx) {
    const reindex = nodeOf(node, "ReindexStmt");
    if (!reindex || optionNames(reindex.params).includes("concurrently")) return;
    const kind = (reindex.kind ?? "REINDEX_OBJECT_INDEX").replace("REINDEX_OBJECT_", "");
    // System catalogs cannot be reindexed concurrently, and are not a migration's business.
    if (kind === "SYSTEM") return;
    const name = reindex.relation ? relationName(reindex.relation) : (reindex.name ?? "");
    yield {
      severity: "error",
      message: `REINDEX ${kind} ${name} locks writes to the tables (and reads that use the index) until every index is rebuilt`,
      fix:
        ctx.pgVersion >= 12
          ? `REINDEX ${kind} CONCURRENTLY ${name} — on its own, outside a transaction block`
          : "before PostgreSQL 12: CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one, and rename the copy",
    };
  },
};
