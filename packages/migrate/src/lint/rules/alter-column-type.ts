import type { TypeName } from "libpg-query";
import { alterTable, nodeOf, relationName, typeBaseName, typeDisplay } from "../ast.js";
import type { LintRule } from "../lint-rule.js";

export const alterColumnType: LintRule = {
  id: "alter-column-type",
  summary: "ALTER COLUMN ... TYPE rewrites the table under ACCESS EXCLUSIVE (unless binary-compatible)",
  *check(node, ctx) {
    const alter = alterTable(node);
    if (!alter || ctx.state.isNew(alter.table)) return;
    for (const cmd of alter.cmds) {
      if (cmd.subtype !== "AT_AlterColumnType") continue;
      const type = nodeOf(cmd.def, "ColumnDef")?.typeName;
      const name = cmd.name ?? "?";
      const table = relationName(alter.table);
      const to = typeDisplay(type);
      const rewrite = `rewrites ${table} and its indexes under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite`;
      const expandContract = `expand/contract: ADD COLUMN ${name}_new ${to}, keep it in sync with a trigger, backfill in batches, move the new version to it, then drop ${name} once no running version uses it`;
      const source = compatibleSources(type, ctx.pgVersion);
      yield source
        ? {
            severity: "warning",
            message: `ALTER COLUMN ${name} TYPE ${to} only changes the catalog if ${name} is ${source} now; from any other type it ${rewrite} (the lint cannot see the current type)`,
            fix: `keep it if ${name} is ${source}; otherwise ${expandContract}`,
          }
        : {
            severity: "error",
            message: `ALTER COLUMN ${name} TYPE ${to} ${rewrite}; clients of the running version may not expect the new type either`,
            fix: expandContract,
          };
    }
  },
};

/**
 * The current types from which PostgreSQL changes to `type` without a rewrite (binary-compatible
 * or only relaxing a limit), described for users; undefined when every change to it rewrites.
 * Handled: text, varchar with or without length, numeric with or without precision, bit varying,
 * and timestamp → timestamptz (PostgreSQL 12+, session TimeZone UTC).
 */
function compatibleSources(type: TypeName | undefined, pgVersion: number): string | undefined {
  if (!type || type.arrayBounds?.length) return undefined;
  const mods = type.typmods?.length ?? 0;
  switch (typeBaseName(type)) {
    case "text":
      return "varchar or varchar(n)";
    case "varchar":
      return mods ? `a varchar of that length or shorter` : "varchar(n) or text";
    case "numeric":
      return mods ? "numeric with the same scale and a lower precision" : "numeric(p,s)";
    case "varbit":
      return mods ? "a shorter bit varying" : "bit varying(n)";
    case "timestamptz":
      return pgVersion >= 12 ? "timestamp and the session TimeZone is UTC" : undefined;
    default:
      return undefined;
  }
}
