import type { Node } from "libpg-query";
import { alterTable, kindOf, listName, nodeOf, optionNames, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";
import type { LintState } from "../lint-state.js";

export const lockTimeoutMissing: LintRule = {
  id: "lock-timeout-missing",
  summary: "DDL with no lock_timeout set: waiting for its lock queues every query on the table behind it",
  oncePerFile: true,
  *check(node, ctx) {
    if (ctx.state.lockTimeoutSet) return;
    const table = queueingTable(node, ctx.state);
    if (table === undefined) return;
    yield {
      severity: "warning",
      message: `no lock_timeout is set before this statement: if a long transaction holds ${table}, this waits for it, and every query on ${table} queues behind this statement, stalling the application without an error`,
      fix: "SET lock_timeout = '2s'; at the top of the file, so the statement gives up instead (then retry the migration)",
    };
  },
};

/**
 * The table a statement locks strongly enough that queries queue behind its lock request (any
 * mode conflicting with plain reads or writes), or undefined. Tables created in the same file
 * have no other users and do not count.
 */
function queueingTable(node: Node, state: LintState): string | undefined {
  const alter = alterTable(node);
  if (alter) {
    // VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE, which reads and writes do not wait for.
    const weak = alter.cmds.every((c) => c.subtype === "AT_ValidateConstraint");
    return weak || state.isNew(alter.table) ? undefined : relationName(alter.table);
  }
  const relation =
    nodeOf(node, "RenameStmt")?.relation ??
    nodeOf(node, "AlterObjectSchemaStmt")?.relation ??
    nodeOf(node, "CreateTrigStmt")?.relation ??
    nodeOf(node, "ClusterStmt")?.relation;
  if (relation) return state.isNew(relation) ? undefined : relationName(relation);
  const index = nodeOf(node, "IndexStmt");
  if (index)
    return index.concurrent || state.isNew(index.relation) ? undefined : relationName(index.relation);
  const drop = nodeOf(node, "DropStmt");
  if (
    drop &&
    !drop.concurrent &&
    ["OBJECT_TABLE", "OBJECT_INDEX", "OBJECT_TRIGGER"].includes(drop.removeType ?? "")
  ) {
    const names = (drop.objects ?? []).map(listName).filter((n) => !state.isNew(n));
    return names.length ? names.join(", ") : undefined;
  }
  const relations = nodeOf(node, "TruncateStmt")?.relations ?? nodeOf(node, "LockStmt")?.relations;
  if (relations) {
    const tables = relations.map((r) => nodeOf(r, "RangeVar")).filter((t) => !state.isNew(t));
    return tables.length ? tables.map(relationName).join(", ") : undefined;
  }
  const reindex = nodeOf(node, "ReindexStmt");
  if (reindex && !optionNames(reindex.params).includes("concurrently"))
    return reindex.relation ? relationName(reindex.relation) : (reindex.name ?? "the tables");
  if (kindOf(node) === "VacuumStmt" && optionNames(nodeOf(node, "VacuumStmt")?.options).includes("full"))
    return "the vacuumed tables";
  return undefined;
}
