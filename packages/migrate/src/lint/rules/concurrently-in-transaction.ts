import { alterTable, nodeOf, optionNames } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const concurrentlyInTransaction: LintRule = {
  id: "concurrently-in-transaction",
  summary: "CONCURRENTLY inside a transaction block: PostgreSQL refuses to run it",
  *check(node, ctx) {
    const reason = ctx.state.transactionReason;
    if (!reason) return;
    const what = concurrentStatement(node);
    if (!what) return;
    yield {
      severity: "error",
      message: `${what} cannot run inside a transaction block, and this one does: ${reason}; PostgreSQL will refuse it`,
      fix: "run it on its own, outside BEGIN/COMMIT (with Baton: as the only statement of its own sql operation)",
    };
  },
};

function concurrentStatement(node: Parameters<LintRule["check"]>[0]): string | undefined {
  if (nodeOf(node, "IndexStmt")?.concurrent) return "CREATE INDEX CONCURRENTLY";
  const drop = nodeOf(node, "DropStmt");
  if (drop?.concurrent && drop.removeType === "OBJECT_INDEX") return "DROP INDEX CONCURRENTLY";
  if (optionNames(nodeOf(node, "ReindexStmt")?.params).includes("concurrently"))
    return "REINDEX CONCURRENTLY";
  const detaching = alterTable(node)?.cmds.some(
    (c) => c.subtype === "AT_DetachPartition" && nodeOf(c.def, "PartitionCmd")?.concurrent,
  );
  return detaching ? "DETACH PARTITION CONCURRENTLY" : undefined;
}
