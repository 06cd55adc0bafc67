import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

/** LOCK modes by their number in the parse tree. */
const MODES = [
  "",
  "ACCESS SHARE",
  "ROW SHARE",
  "ROW EXCLUSIVE",
  "SHARE UPDATE EXCLUSIVE",
  "SHARE",
  "SHARE ROW EXCLUSIVE",
  "EXCLUSIVE",
  "ACCESS EXCLUSIVE",
];
const SHARE = 5;
const ACCESS_EXCLUSIVE = 8;

export const lockTable: LintRule = {
  id: "lock-table",
  summary: "LOCK TABLE in SHARE mode or stronger blocks the application's writes (or reads) until commit",
  *check(node, ctx) {
    const lock = nodeOf(node, "LockStmt");
    // Weaker modes do not conflict with INSERT, UPDATE or DELETE.
    const mode = lock?.mode ?? ACCESS_EXCLUSIVE;
    if (!lock || mode < SHARE) return;
    const tables = (lock.relations ?? [])
      .map((r) => nodeOf(r, "RangeVar"))
      .filter((t) => !ctx.state.isNew(t));
    if (tables.length === 0) return;
    yield {
      severity: "error",
      message: `LOCK TABLE ${tables.map(relationName).join(", ")} IN ${MODES[mode]} MODE blocks ${mode === ACCESS_EXCLUSIVE ? "reads and writes" : "writes"} until the transaction ends`,
      fix: "drop the explicit lock: each statement takes the lock it needs; keep transactions holding locks short, and set lock_timeout so they give up instead of queueing the application",
    };
  },
};
