/**
 * Checks that fragments of SQL from a migration file parse, with PostgreSQL's own parser
 * (libpg-query), before anything runs against a database.
 *
 * A fragment is parsed inside a statement made for its kind, e.g. an expression as
 * `SELECT (<expr>)`. That is enough for both forms pgroll's `up`/`down` take: a plain expression
 * (`UPPER(name)`) and a whole `SELECT CASE ... END`, which inside the parentheses is a scalar
 * subquery (exactly what pgroll's trigger makes of it). The fragment goes on lines of its own so
 * that a trailing `-- comment` cannot swallow the closing parenthesis, and the parsed statement
 * must have exactly the wrapper's shape, so a fragment cannot close the parenthesis and smuggle in
 * more (`x) FROM t WHERE (y`, `1); DROP TABLE t; SELECT (1`).
 */

/** What a fragment must be. */
export type SqlFragmentKind =
  /** A value expression: up/down, a default, a generation expression. */
  | "expression"
  /** A boolean condition: a check constraint, an index or exclusion predicate. */
  | "condition"
  /** A column type, e.g. `varchar(255)`, `time with time zone`, `text[]`. */
  | "type"
  /** One or more SQL statements (a raw `sql` operation). */
  | "statements"
  /** Index storage parameters, e.g. `fillfactor = 70`. */
  | "storage_parameters"
  /** An exclusion constraint's elements, e.g. `room WITH =, during WITH &&`. */
  | "exclude_elements"
  /** CREATE SEQUENCE options, e.g. `START 100 INCREMENT 10`. */
  | "sequence_options";

/** Returns why `text` is not a valid fragment of `kind`, or undefined when it is. */
export type SqlFragmentChecker = (kind: SqlFragmentKind, text: string) => string | undefined;

interface ParseError {
  message: string;
  /** 0-based offset into the parsed text. */
  position?: number;
}

type Parse = (sql: string) => { stmts?: { stmt?: Record<string, unknown> }[] };

let parserPromise: Promise<Parse> | undefined;

function loadParser(): Promise<Parse> {
  parserPromise ??= (async () => {
    const q = await import("libpg-query");
    await q.loadModule();
    return (sql: string) => q.parseSync(sql) as ReturnType<Parse>;
  })();
  return parserPromise;
}

/** Loads the PostgreSQL parser (once) and returns a synchronous checker. */
export async function getSqlFragmentChecker(): Promise<SqlFragmentChecker> {
  const parse = await loadParser();
  return (kind, text) => checkFragment(parse, kind, text);
}

/** Checks one fragment; see getSqlFragmentChecker to check many. */
export async function checkSqlFragment(kind: SqlFragmentKind, text: string): Promise<string | undefined> {
  return (await getSqlFragmentChecker())(kind, text);
}

interface Wrapper {
  prefix: string;
  suffix: string;
  /** Whether the single parsed statement has exactly the wrapper's shape. */
  fits: (stmt: Record<string, unknown>) => boolean;
  /** Says what the fragment should have been, when it parses but does not fit. */
  expected: string;
}

const WRAPPERS: Record<Exclude<SqlFragmentKind, "statements">, Wrapper> = {
  expression: {
    prefix: "SELECT (\n",
    suffix: "\n)",
    fits: (s) => isPlainSelect(s, []),
    expected: "a single SQL expression",
  },
  condition: {
    prefix: "SELECT 1 WHERE (\n",
    suffix: "\n)",
    fits: (s) => isPlainSelect(s, ["whereClause"]),
    expected: "a single boolean condition",
  },
  type: {
    prefix: "CREATE TABLE t (c \n",
    suffix: "\n)",
    fits: (s) => {
      const create = only(s, "CreateStmt");
      if (!create || !hasOnlyKeys(create, ["relation", "tableElts", "oncommit"])) return false;
      const elts = create.tableElts;
      if (!Array.isArray(elts) || elts.length !== 1) return false;
      const def = only(elts[0], "ColumnDef");
      return !!def && hasOnlyKeys(def, ["colname", "typeName", "is_local", "collClause", "location"]);
    },
    expected: "a single column type (constraints and defaults have fields of their own)",
  },
  storage_parameters: {
    prefix: "CREATE INDEX i ON t (c) WITH (\n",
    suffix: "\n)",
    fits: (s) => {
      const index = only(s, "IndexStmt");
      return (
        !!index &&
        hasOnlyKeys(index, ["idxname", "relation", "accessMethod", "indexParams", "options"]) &&
        Array.isArray(index.indexParams) &&
        index.indexParams.length === 1
      );
    },
    expected: "storage parameters like `fillfactor = 70`",
  },
  exclude_elements: {
    prefix: "ALTER TABLE t ADD EXCLUDE (\n",
    suffix: "\n)",
    fits: (s) => {
      const alter = only(s, "AlterTableStmt");
      if (!alter || !hasOnlyKeys(alter, ["relation", "cmds", "objtype"])) return false;
      const cmds = alter.cmds;
      if (!Array.isArray(cmds) || cmds.length !== 1) return false;
      const cmd = only(cmds[0], "AlterTableCmd");
      const def = cmd && only(cmd.def, "Constraint");
      return !!def && hasOnlyKeys(def, ["contype", "exclusions", "access_method", "location"]);
    },
    expected: "exclusion elements like `room WITH =, during WITH &&`",
  },
  sequence_options: {
    prefix: "CREATE SEQUENCE s \n",
    suffix: "\n",
    fits: (s) => {
      const seq = only(s, "CreateSeqStmt");
      return !!seq && hasOnlyKeys(seq, ["sequence", "options"]);
    },
    expected: "sequence options like `START 100 INCREMENT 10`",
  },
};

const KIND_LABEL: Record<SqlFragmentKind, string> = {
  expression: "SQL expression",
  condition: "SQL condition",
  type: "column type",
  statements: "SQL",
  storage_parameters: "storage parameters",
  exclude_elements: "exclusion elements",
  sequence_options: "sequence options",
};

function checkFragment(parse: Parse, kind: SqlFragmentKind, text: string): string | undefined {
  const label = KIND_LABEL[kind];
  if (text.trim() === "") return `empty ${label}`;
  if (kind === "statements") {
    const result = tryParse(parse, text);
    if ("error" in result)
      return `${label} does not parse: ${describeError(result.error, text, 0, text.length)}`;
    if ((result.stmts ?? []).length === 0) return "contains no SQL statement (only comments or semicolons)";
    return undefined;
  }
  const w = WRAPPERS[kind];
  const wrapped = w.prefix + text + w.suffix;
  const result = tryParse(parse, wrapped);
  if ("error" in result) {
    return `${label} does not parse: ${describeError(result.error, text, w.prefix.length, text.length)}`;
  }
  const stmts = result.stmts ?? [];
  if (stmts.length !== 1 || !stmts[0]?.stmt || !w.fits(stmts[0].stmt)) {
    return `is not ${w.expected}: "${shorten(text)}"`;
  }
  return undefined;
}

function tryParse(parse: Parse, sql: string): ReturnType<Parse> | { error: ParseError } {
  try {
    return parse(sql);
  } catch (err) {
    const e = err as { message?: string; sqlDetails?: { message?: string; cursorPosition?: number } };
    const error: ParseError = { message: e.sqlDetails?.message ?? e.message ?? String(err) };
    const pos = e.sqlDetails?.cursorPosition;
    if (typeof pos === "number" && pos >= 0) error.position = pos;
    return { error };
  }
}

/** The parser's message, with the position given in the fragment's own terms. */
function describeError(error: ParseError, text: string, offset: number, length: number): string {
  const pos = error.position === undefined ? undefined : error.position - offset;
  if (pos === undefined) return error.message;
  if (pos >= length || /^syntax error at end of input/.test(error.message)) {
    return `syntax error at the end of "${shorten(text)}" (is something missing?)`;
  }
  if (pos < 0) return error.message;
  const line = text.slice(0, pos).split("\n").length;
  const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
  const where = text.includes("\n")
    ? `line ${line}, character ${pos - lineStart + 1}`
    : `character ${pos + 1}`;
  return `${error.message} (${where} of "${shorten(text)}")`;
}

function shorten(s: string, max = 80): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The node's single child of the given type: `{ SelectStmt: {...} }` -> `{...}`. */
function only(node: unknown, type: string): Record<string, unknown> | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const keys = Object.keys(node);
  if (keys.length !== 1 || keys[0] !== type) return undefined;
  const inner = (node as Record<string, unknown>)[type];
  return typeof inner === "object" && inner !== null ? (inner as Record<string, unknown>) : undefined;
}

function hasOnlyKeys(node: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(node).every((k) => allowed.includes(k));
}

/** `SELECT <one unnamed target> [extra clauses]`: no FROM, no alias, no set operation, nothing else. */
function isPlainSelect(stmt: Record<string, unknown>, extra: readonly string[]): boolean {
  const select = only(stmt, "SelectStmt");
  if (!select || !hasOnlyKeys(select, ["targetList", "limitOption", "op", ...extra])) return false;
  if (select.op !== undefined && select.op !== "SETOP_NONE") return false;
  if (select.limitOption !== undefined && select.limitOption !== "LIMIT_OPTION_DEFAULT") return false;
  for (const key of extra) if (select[key] === undefined) return false;
  const targets = select.targetList;
  if (!Array.isArray(targets) || targets.length !== 1) return false;
  const target = only(targets[0], "ResTarget");
  return !!target && hasOnlyKeys(target, ["val", "location"]);
}
