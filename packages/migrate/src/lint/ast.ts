import type { AlterTableCmd, Constraint, FuncCall, Node, RangeVar, TypeName } from "libpg-query";

/** Every node type name, e.g. "AlterTableStmt". */
type NodeKind = Node extends infer N ? (N extends Record<infer K, unknown> ? K : never) : never;
type NodeBody<K extends NodeKind> = Extract<Node, Record<K, unknown>>[K];

/** The body of a node if it is of the given kind: `nodeOf(n, "IndexStmt")?.concurrent`. */
export function nodeOf<K extends NodeKind>(node: Node | undefined, kind: K): NodeBody<K> | undefined {
  return node && kind in node ? (node as unknown as Record<K, NodeBody<K>>)[kind] : undefined;
}

/** The kind of a node ("AlterTableStmt"). */
export function kindOf(node: Node): string {
  return Object.keys(node)[0] ?? "";
}

/** `schema.table` as written, or `table`. */
export function relationName(rel: RangeVar | undefined): string {
  if (!rel?.relname) return "?";
  return rel.schemaname ? `${rel.schemaname}.${rel.relname}` : rel.relname;
}

/** The strings of a list of String nodes (qualified names, column lists). */
export function names(list: Node[] | undefined): string[] {
  return (list ?? []).flatMap((n) => {
    const s = nodeOf(n, "String")?.sval;
    return s === undefined ? [] : [s];
  });
}

/** A qualified name given as a List of Strings (DROP INDEX a.b). */
export function listName(node: Node): string {
  return names(nodeOf(node, "List")?.items).join(".");
}

/** The unqualified type name, lower case: `pg_catalog.int8` → `int8`, `varchar(20)` → `varchar`. */
export function typeBaseName(type: TypeName | undefined): string {
  return (names(type?.names).at(-1) ?? "").toLowerCase();
}

/** The type as users write it: `varchar(20)`, `bigint[]`. */
export function typeDisplay(type: TypeName | undefined): string {
  const base = typeBaseName(type);
  const mods = (type?.typmods ?? []).map((m) => nodeOf(m, "A_Const")?.ival?.ival ?? 0);
  const array = type?.arrayBounds?.length ? "[]" : "";
  return `${SQL_SPELLING[base] ?? base}${mods.length ? `(${mods.join(",")})` : ""}${array}`;
}

/** The parser turns standard type names into internal ones; messages use what users wrote. */
const SQL_SPELLING: Record<string, string> = {
  int2: "smallint",
  int4: "integer",
  int8: "bigint",
  float4: "real",
  float8: "double precision",
  bool: "boolean",
  bpchar: "char",
};

/** Lower-case unqualified function name. */
export function functionName(call: FuncCall): string {
  return (names(call.funcname).at(-1) ?? "").toLowerCase();
}

/** Every function call anywhere inside a node (an expression tree), depth first. */
export function functionCalls(node: unknown): FuncCall[] {
  const found: FuncCall[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "FuncCall") found.push(inner as FuncCall);
        visit(inner);
      }
    }
  };
  visit(node);
  return found;
}

/** The subcommands of an ALTER TABLE with the table they act on, or undefined for other statements. */
export function alterTable(node: Node): { table: RangeVar | undefined; cmds: AlterTableCmd[] } | undefined {
  const stmt = nodeOf(node, "AlterTableStmt");
  if (!stmt || (stmt.objtype && stmt.objtype !== "OBJECT_TABLE")) return undefined;
  return {
    table: stmt.relation,
    cmds: (stmt.cmds ?? []).flatMap((c) => {
      const cmd = nodeOf(c, "AlterTableCmd");
      return cmd ? [cmd] : [];
    }),
  };
}

/** Constraints a subcommand adds: ADD CONSTRAINT, and those written inline in ADD COLUMN. */
export function addedConstraints(cmd: AlterTableCmd): { constraint: Constraint; column?: string }[] {
  if (cmd.subtype === "AT_AddConstraint") {
    const constraint = nodeOf(cmd.def, "Constraint");
    return constraint ? [{ constraint }] : [];
  }
  if (cmd.subtype === "AT_AddColumn") {
    const column = nodeOf(cmd.def, "ColumnDef");
    return (column?.constraints ?? []).flatMap((n) => {
      const constraint = nodeOf(n, "Constraint");
      return constraint ? [{ constraint, column: column?.colname }] : [];
    });
  }
  return [];
}

/** Names of DefElem options (`VACUUM (FULL)`, `REINDEX (CONCURRENTLY)`), lower case. */
export function optionNames(options: Node[] | undefined): string[] {
  return (options ?? []).flatMap((o) => {
    const name = nodeOf(o, "DefElem")?.defname;
    return name ? [name.toLowerCase()] : [];
  });
}

/** A string literal or number as text ('5s' → "5s", 0 → "0"); undefined for anything else. */
export function constantText(node: Node | undefined): string | undefined {
  const c = nodeOf(node, "A_Const");
  if (!c) return undefined;
  if (c.sval) return c.sval.sval ?? "";
  // Zero values are left out of the parse tree: `ival: {}` is 0.
  if (c.ival) return String(c.ival.ival ?? 0);
  if (c.fval) return c.fval.fval ?? "0";
  return undefined;
}
