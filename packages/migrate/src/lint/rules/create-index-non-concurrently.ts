import { nodeOf, relationName } from "../ast.js";
import type { LintRule } from "../lint-rule.js";
import { oneLine } from "../source-text.js";

export const createIndexNonConcurrently: LintRule = {
  id: "create-index-non-concurrently",
  summary: "CREATE INDEX without CONCURRENTLY blocks writes to the table for the whole build",
  *check(node, ctx) {
    const index = nodeOf(node, "IndexStmt");
    if (!index || index.concurrent || ctx.state.isNew(index.relation)) return;
    const table = relationName(index.relation);
    // The parser said this is CREATE [UNIQUE] INDEX, so the keyword can be put in as text.
    const rewritten = ctx.text.replace(/^(CREATE\s+(?:UNIQUE\s+)?INDEX)\b/i, "$1 CONCURRENTLY");
    // A comment between the keywords defeats the text edit; then name the statement's shape.
    const concurrent =
      rewritten !== ctx.text
        ? rewritten
        : `CREATE ${index.unique ? "UNIQUE " : ""}INDEX CONCURRENTLY ${index.idxname ?? ""} ON ${table} (...)`;
    yield {
      severity: "error",
      message: `CREATE ${index.unique ? "UNIQUE " : ""}INDEX without CONCURRENTLY locks ${table} (SHARE): every INSERT, UPDATE and DELETE on it waits for the whole build`,
      fix: `${oneLine(concurrent, 90)} — on its own, outside a transaction block; if it fails, DROP INDEX CONCURRENTLY the INVALID index it leaves and run it again`,
    };
  },
};
