import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const cluster: LintRule = {
  id: "cluster",
  summary: "CLUSTER rewrites the table under ACCESS EXCLUSIVE",
  *check(node) {
    const stmt = nodeOf(node, "ClusterStmt");
    if (!stmt) return;
    yield {
      severity: "error",
      message: `CLUSTER rewrites ${stmt.relation ? relationName(stmt.relation) : "every previously clustered table"} under ACCESS EXCLUSIVE: reads and writes wait until it finishes`,
      fix: "pg_repack --order-by (or pg_repack with the cluster index) reorders the table online",
    };
  },
};
