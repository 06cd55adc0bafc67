/**
 * The operations of a migration file, in pgroll's operation format (xataio/pgroll, schema.json),
 * as zod schemas that read the file's snake_case fields and produce the camelCase specs below
 * with pgroll's defaults applied.
 *
 * Defaults, as pgroll defines them (schema.json and the Go types generated from it):
 * - A column is NOT NULL unless it says `nullable: true`. pgroll's `Column.nullable` is a boolean
 *   whose default is `false` (schema.json: `"nullable": {"type": "boolean", "default": false}`; Go:
 *   `Nullable bool`), and pgroll writes `NOT NULL` for every column that is not nullable. This is
 *   the opposite of PostgreSQL's own default, and pgroll knows it (issue xataio/pgroll#491,
 *   "Reconsider using `nullable` over `not_null`", still open). The examples rely on it:
 *   20_create_posts_table creates `title` without `nullable`, and 31_unset_not_null then makes it
 *   nullable; 49 does the same to `fruits.name` from 08.
 * - `pk` and `unique` default to false.
 * - A foreign key's `on_delete` and `on_update` default to "NO ACTION", `match_type` to "SIMPLE",
 *   `deferrable` and `initially_deferred` to false.
 * - An index's `method` defaults to "btree" and `unique` to false.
 * - An identity column's `user_specified_values` defaults to "ALWAYS".
 * - `no_inherit`, `nulls_not_distinct`, `onComplete` default to false.
 * - An `up`/`down` given as "" is the same as leaving it out (pgroll's default for them is "").
 *
 * Keyword-like values (on_delete, match_type, sort, nulls, user_specified_values, the replica
 * identity type and the index method) are accepted in any case and given in pgroll's case.
 */
import { z } from "zod";

/** PostgreSQL truncates names longer than this (NAMEDATALEN - 1), so pgroll refuses them. */
export const MAX_IDENTIFIER_BYTES = 63;

// ---------------------------------------------------------------------------------------------
// The specs (what the engine works with)
// ---------------------------------------------------------------------------------------------

export type ForeignKeyAction = "NO ACTION" | "RESTRICT" | "CASCADE" | "SET NULL" | "SET DEFAULT";
export type ForeignKeyMatchType = "SIMPLE" | "FULL" | "PARTIAL";
export type IndexMethod = "btree" | "hash" | "gist" | "spgist" | "gin" | "brin";
export type ReplicaIdentityType = "full" | "default" | "nothing" | "index";

export interface CheckConstraintSpec {
  name: string;
  /** A boolean SQL expression. */
  constraint: string;
  noInherit: boolean;
}

export interface UniqueConstraintSpec {
  name: string;
}

/** A column-level foreign key (create_table / add_column columns, alter_column). */
export interface ForeignKeyReferenceSpec {
  /** The constraint's name. */
  name: string;
  table: string;
  column: string;
  onDelete: ForeignKeyAction;
  onUpdate: ForeignKeyAction;
  matchType: ForeignKeyMatchType;
  deferrable: boolean;
  initiallyDeferred: boolean;
}

export interface IdentitySpec {
  userSpecifiedValues: "ALWAYS" | "BY DEFAULT";
  /** As in CREATE SEQUENCE, e.g. "START 100 INCREMENT 10". */
  sequenceOptions?: string;
}

/** A stored generated column (`GENERATED ALWAYS AS (expression) STORED`) or an identity column: exactly one. */
export type GeneratedColumnSpec = { expression: string } | { identity: IdentitySpec };

export interface ColumnSpec {
  name: string;
  /** A PostgreSQL type, e.g. "varchar(255)". */
  type: string;
  pk: boolean;
  /** false (NOT NULL) unless the file says `nullable: true`: pgroll's default. */
  nullable: boolean;
  unique: boolean;
  /** A SQL expression; string literals carry their own quotes ("'unnamed'"). */
  default?: string;
  check?: CheckConstraintSpec;
  references?: ForeignKeyReferenceSpec;
  comment?: string;
  generated?: GeneratedColumnSpec;
}

/** A table-level foreign key's target (create_table constraints, create_constraint). */
export interface TableForeignKeyReferenceSpec {
  table: string;
  columns: string[];
  onDelete: ForeignKeyAction;
  onUpdate: ForeignKeyAction;
  matchType: ForeignKeyMatchType;
  /** With ON DELETE SET NULL / SET DEFAULT: the columns to set (PostgreSQL 15+). */
  onDeleteSetColumns?: string[];
}

export interface IndexParametersSpec {
  tablespace?: string;
  /** e.g. "fillfactor = 70" */
  storageParameters?: string;
  includeColumns?: string[];
}

export interface ExcludeSpec {
  /** e.g. "gist"; pgroll's default is "" (PostgreSQL's own default, btree). */
  indexMethod?: string;
  /** e.g. "title WITH =" */
  elements: string;
  /** WHERE clause of the exclusion constraint. */
  predicate?: string;
}

/** A constraint in create_table's `constraints` list. */
export type TableConstraintSpec =
  | {
      type: "unique";
      name: string;
      columns: string[];
      nullsNotDistinct: boolean;
      deferrable: boolean;
      initiallyDeferred: boolean;
      indexParameters?: IndexParametersSpec;
    }
  | { type: "check"; name: string; check: string; noInherit: boolean; columns?: string[] }
  | {
      type: "primary_key";
      name: string;
      columns: string[];
      deferrable: boolean;
      initiallyDeferred: boolean;
      indexParameters?: IndexParametersSpec;
    }
  | {
      type: "foreign_key";
      name: string;
      columns: string[];
      references: TableForeignKeyReferenceSpec;
      deferrable: boolean;
      initiallyDeferred: boolean;
    }
  | {
      type: "exclude";
      name: string;
      exclude: ExcludeSpec;
      deferrable: boolean;
      initiallyDeferred: boolean;
      indexParameters?: IndexParametersSpec;
    };

export interface IndexColumnSpec {
  column: string;
  collate?: string;
  sort?: "ASC" | "DESC";
  nulls?: "FIRST" | "LAST";
  opclass?: { name: string; params?: string[] };
}

export interface CreateTableSpec {
  op: "create_table";
  name: string;
  columns: ColumnSpec[];
  constraints?: TableConstraintSpec[];
  comment?: string;
}

export interface DropTableSpec {
  op: "drop_table";
  name: string;
}

export interface RenameTableSpec {
  op: "rename_table";
  from: string;
  to: string;
}

export interface AddColumnSpec {
  op: "add_column";
  table: string;
  column: ColumnSpec;
  /** SQL expression filling the new column from the old version's rows (and writes). */
  up?: string;
}

export interface DropColumnSpec {
  op: "drop_column";
  table: string;
  column: string;
  /** SQL expression filling the dropped column for the old version while both run. */
  down?: string;
}

export interface RenameColumnSpec {
  op: "rename_column";
  table: string;
  from: string;
  to: string;
}

/**
 * Several changes to one column at once. A field left out is not changed; `default: null` drops
 * the default and `comment: null` removes the comment. `name` renames the column (pgroll's older
 * alter_column form; rename_column is the newer one).
 */
export interface AlterColumnSpec {
  op: "alter_column";
  table: string;
  column: string;
  name?: string;
  type?: string;
  nullable?: boolean;
  default?: string | null;
  unique?: UniqueConstraintSpec;
  check?: CheckConstraintSpec;
  references?: ForeignKeyReferenceSpec;
  comment?: string | null;
  /** New column value from the old one; a SQL expression, or a `SELECT ...` whose one value is used. */
  up?: string;
  /** Old column value from the new one. */
  down?: string;
}

export interface CreateIndexSpec {
  op: "create_index";
  name: string;
  table: string;
  columns: IndexColumnSpec[];
  method: IndexMethod;
  unique: boolean;
  /** A partial index's WHERE condition. */
  predicate?: string;
  /** e.g. "fillfactor = 70" */
  storageParameters?: string;
}

export interface DropIndexSpec {
  op: "drop_index";
  name: string;
}

interface CreateConstraintCommon {
  op: "create_constraint";
  table: string;
  name: string;
  columns: string[];
  /** Per column of `columns`: SQL expression for its new value. */
  up: Record<string, string>;
  /** Per column of `columns`: SQL expression for its old value. */
  down: Record<string, string>;
}

export type CreateConstraintSpec =
  | (CreateConstraintCommon & { type: "unique"; indexParameters?: IndexParametersSpec })
  | (CreateConstraintCommon & { type: "check"; check: string; noInherit: boolean })
  | (CreateConstraintCommon & { type: "foreign_key"; references: TableForeignKeyReferenceSpec })
  | (CreateConstraintCommon & { type: "primary_key"; indexParameters?: IndexParametersSpec });

/** Drops a single-column constraint (pgroll has deprecated it for drop_multicolumn_constraint). */
export interface DropConstraintSpec {
  op: "drop_constraint";
  table: string;
  name: string;
  up?: string;
  down: string;
}

export interface DropMultiColumnConstraintSpec {
  op: "drop_multicolumn_constraint";
  table: string;
  name: string;
  /** Per column covered by the constraint. */
  up?: Record<string, string>;
  /** Per column covered by the constraint. */
  down: Record<string, string>;
}

export interface RenameConstraintSpec {
  op: "rename_constraint";
  table: string;
  from: string;
  to: string;
}

export interface SetReplicaIdentitySpec {
  op: "set_replica_identity";
  table: string;
  /** `index` is set exactly when `type` is "index". */
  identity: { type: ReplicaIdentityType; index?: string };
}

export interface SqlSpec {
  op: "sql";
  /** SQL statements. */
  up: string;
  /** SQL statements undoing `up` on rollback. */
  down?: string;
  /** Run `up` when the migration completes instead of when it starts. */
  onComplete: boolean;
}

export type OperationSpec =
  | CreateTableSpec
  | DropTableSpec
  | RenameTableSpec
  | AddColumnSpec
  | DropColumnSpec
  | RenameColumnSpec
  | AlterColumnSpec
  | CreateIndexSpec
  | DropIndexSpec
  | CreateConstraintSpec
  | DropConstraintSpec
  | DropMultiColumnConstraintSpec
  | RenameConstraintSpec
  | SetReplicaIdentitySpec
  | SqlSpec;

export type OperationName = OperationSpec["op"];

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

const byteLength = (s: string) => Buffer.byteLength(s, "utf8");

function shorten(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** A table, column, constraint or index name: 1 to 63 bytes, no NUL. */
export const identifier = z.string().superRefine((s, ctx) => {
  if (s.length === 0) ctx.addIssue({ code: "custom", message: "must not be empty" });
  else if (byteLength(s) > MAX_IDENTIFIER_BYTES)
    ctx.addIssue({
      code: "custom",
      message: `"${shorten(s)}" is ${byteLength(s)} bytes long; PostgreSQL names are at most ${MAX_IDENTIFIER_BYTES} bytes`,
    });
  else if (s.includes("\0")) ctx.addIssue({ code: "custom", message: "must not contain a NUL character" });
});

const identifierList = (what: string) =>
  z.array(identifier).superRefine((list, ctx) => {
    if (list.length === 0) ctx.addIssue({ code: "custom", message: `needs at least one ${what}` });
    const seen = new Set<string>();
    list.forEach((name, i) => {
      if (seen.has(name)) ctx.addIssue({ code: "custom", message: `"${name}" is listed twice`, path: [i] });
      seen.add(name);
    });
  });

/** SQL text that must be there (and not be blank). Whether it parses is checked by checkSqlExpressions. */
const sql = z.string().superRefine((s, ctx) => {
  if (s.trim() === "") ctx.addIssue({ code: "custom", message: "must not be empty" });
});

/** An optional `up`/`down`: "" means absent (pgroll's default for these fields). */
const optionalSql = z.string().optional();

/** Column name -> SQL expression (create_constraint and drop_multicolumn_constraint up/down). */
const sqlPerColumn = z.record(identifier, sql);

/** A keyword enum accepted in any case and produced in pgroll's case. */
function keyword<const T extends readonly [string, ...string[]]>(values: T, upper = true) {
  return z.preprocess(
    (v) => (typeof v === "string" ? (upper ? v.toUpperCase() : v.toLowerCase()) : v),
    z.enum(values),
  );
}

const foreignKeyAction = keyword(["NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"] as const);
const matchType = keyword(["SIMPLE", "FULL", "PARTIAL"] as const);
const indexMethod = keyword(["btree", "hash", "gist", "spgist", "gin", "brin"] as const, false);

/** `{...}` that refuses unknown fields, naming them and the fields it knows. */
function fields<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === "unrecognized_keys") {
        const keys = iss.keys.map((k) => `"${k}"`).join(", ");
        return `unknown field${iss.keys.length > 1 ? "s" : ""} ${keys} (expected: ${known})`;
      }
      return undefined;
    },
  });
}

/** Sets `out[key] = value` unless value is undefined or "" (optional fields stay absent). */
function setIf<T extends object, K extends keyof T>(out: T, key: K, value: T[K] | undefined | ""): void {
  if (value !== undefined && value !== "") out[key] = value as T[K];
}

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: "custom", message, path });
}

// ---------------------------------------------------------------------------------------------
// Columns and constraints
// ---------------------------------------------------------------------------------------------

const checkConstraint = fields({
  name: identifier,
  constraint: sql,
  no_inherit: z.boolean().optional(),
}).transform(
  (v): CheckConstraintSpec => ({ name: v.name, constraint: v.constraint, noInherit: v.no_inherit ?? false }),
);

const uniqueConstraint = fields({ name: identifier }).transform(
  (v): UniqueConstraintSpec => ({ name: v.name }),
);

const foreignKeyReference = fields({
  name: identifier,
  table: identifier,
  column: identifier,
  on_delete: foreignKeyAction.optional(),
  on_update: foreignKeyAction.optional(),
  match_type: matchType.optional(),
  deferrable: z.boolean().optional(),
  initially_deferred: z.boolean().optional(),
}).transform(
  (v): ForeignKeyReferenceSpec => ({
    name: v.name,
    table: v.table,
    column: v.column,
    onDelete: v.on_delete ?? "NO ACTION",
    onUpdate: v.on_update ?? "NO ACTION",
    matchType: v.match_type ?? "SIMPLE",
    deferrable: v.deferrable ?? false,
    initiallyDeferred: v.initially_deferred ?? false,
  }),
);

const generated = fields({
  expression: z.string().optional(),
  identity: fields({
    sequence_options: z.string().optional(),
    user_specified_values: keyword(["ALWAYS", "BY DEFAULT"] as const).optional(),
  }).optional(),
}).transform((v, ctx): GeneratedColumnSpec => {
  const hasExpression = v.expression !== undefined && v.expression.trim() !== "";
  if (hasExpression && v.identity) {
    fail(ctx, [], "set either expression (a stored generated column) or identity, not both");
    return z.NEVER;
  }
  if (hasExpression) return { expression: v.expression! };
  if (!v.identity) {
    fail(ctx, [], "needs expression (a stored generated column) or identity");
    return z.NEVER;
  }
  const identity: IdentitySpec = { userSpecifiedValues: v.identity.user_specified_values ?? "ALWAYS" };
  setIf(identity, "sequenceOptions", v.identity.sequence_options);
  return { identity };
});

const column = fields({
  name: identifier,
  type: sql,
  pk: z.boolean().optional(),
  nullable: z.boolean().optional(),
  unique: z.boolean().optional(),
  default: sql.optional(),
  check: checkConstraint.optional(),
  references: foreignKeyReference.optional(),
  comment: z.string().optional(),
  generated: generated.optional(),
}).transform((v, ctx): ColumnSpec => {
  if (v.generated && v.default !== undefined) {
    fail(ctx, ["generated"], "a generated column cannot also have a default");
    return z.NEVER;
  }
  const out: ColumnSpec = {
    name: v.name,
    type: v.type,
    pk: v.pk ?? false,
    nullable: v.nullable ?? false,
    unique: v.unique ?? false,
  };
  setIf(out, "default", v.default);
  if (v.check) out.check = v.check;
  if (v.references) out.references = v.references;
  if (v.comment !== undefined) out.comment = v.comment;
  if (v.generated) out.generated = v.generated;
  return out;
});

const tableForeignKeyReference = fields({
  table: identifier,
  columns: identifierList("referenced column"),
  on_delete: foreignKeyAction.optional(),
  on_update: foreignKeyAction.optional(),
  match_type: matchType.optional(),
  on_delete_set_columns: z.array(identifier).optional(),
}).transform((v, ctx): TableForeignKeyReferenceSpec => {
  const onDelete = v.on_delete ?? "NO ACTION";
  if (v.on_delete_set_columns?.length && onDelete !== "SET NULL" && onDelete !== "SET DEFAULT") {
    fail(ctx, ["on_delete_set_columns"], "only applies with on_delete: SET NULL or SET DEFAULT");
    return z.NEVER;
  }
  const out: TableForeignKeyReferenceSpec = {
    table: v.table,
    columns: v.columns,
    onDelete,
    onUpdate: v.on_update ?? "NO ACTION",
    matchType: v.match_type ?? "SIMPLE",
  };
  if (v.on_delete_set_columns?.length) out.onDeleteSetColumns = v.on_delete_set_columns;
  return out;
});

const indexParameters = fields({
  tablespace: identifier.optional(),
  storage_parameters: z.string().optional(),
  include_columns: z.array(identifier).optional(),
}).transform((v): IndexParametersSpec => {
  const out: IndexParametersSpec = {};
  setIf(out, "tablespace", v.tablespace);
  setIf(out, "storageParameters", v.storage_parameters?.trim() === "" ? undefined : v.storage_parameters);
  if (v.include_columns?.length) out.includeColumns = v.include_columns;
  return out;
});

const isEmptyObject = (o: object | undefined) => o === undefined || Object.keys(o).length === 0;

const excludeSpec = fields({
  index_method: z.string().optional(),
  elements: sql,
  predicate: z.string().optional(),
}).transform((v, ctx): ExcludeSpec => {
  if (
    v.index_method !== undefined &&
    v.index_method !== "" &&
    !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.index_method)
  ) {
    fail(
      ctx,
      ["index_method"],
      `"${shorten(v.index_method)}" is not an index method name (e.g. gist, btree)`,
    );
    return z.NEVER;
  }
  const out: ExcludeSpec = { elements: v.elements };
  setIf(out, "indexMethod", v.index_method);
  setIf(out, "predicate", v.predicate?.trim() === "" ? undefined : v.predicate);
  return out;
});

const CONSTRAINT_TYPES = ["unique", "check", "primary_key", "foreign_key", "exclude"] as const;

/** Which optional fields each constraint type may carry (pgroll's schema.json, `Constraint.allOf`). */
const CONSTRAINT_FIELDS: Record<(typeof CONSTRAINT_TYPES)[number], readonly string[]> = {
  unique: ["columns", "nulls_not_distinct", "deferrable", "initially_deferred", "index_parameters"],
  check: ["check", "no_inherit", "columns"],
  primary_key: ["columns", "deferrable", "initially_deferred", "index_parameters"],
  foreign_key: ["columns", "references", "deferrable", "initially_deferred"],
  exclude: ["exclude", "deferrable", "initially_deferred", "index_parameters"],
};

/** Fields that count as "not set" at these values (pgroll writes them out so). */
function isUnset(value: unknown): boolean {
  return (
    value === undefined ||
    value === false ||
    value === "" ||
    (Array.isArray(value) && value.length === 0) ||
    (typeof value === "object" && value !== null && isEmptyObject(value))
  );
}

const tableConstraint = fields({
  name: identifier,
  type: z.enum(CONSTRAINT_TYPES),
  columns: z.array(identifier).optional(),
  check: z.string().optional(),
  nulls_not_distinct: z.boolean().optional(),
  deferrable: z.boolean().optional(),
  initially_deferred: z.boolean().optional(),
  no_inherit: z.boolean().optional(),
  references: tableForeignKeyReference.optional(),
  exclude: excludeSpec.optional(),
  index_parameters: indexParameters.optional(),
}).transform((v, ctx): TableConstraintSpec => {
  const allowed = CONSTRAINT_FIELDS[v.type];
  let bad = false;
  for (const [key, value] of Object.entries(v)) {
    if (key === "name" || key === "type" || allowed.includes(key) || isUnset(value)) continue;
    fail(ctx, [key], `does not apply to a ${v.type} constraint`);
    bad = true;
  }
  const need = (key: "columns" | "check" | "references" | "exclude", present: boolean, what: string) => {
    if (!present) {
      fail(ctx, [key], `required for a ${v.type} constraint (${what})`);
      bad = true;
    }
  };
  const columns = v.columns ?? [];
  if (v.type === "unique" || v.type === "primary_key" || v.type === "foreign_key")
    need("columns", columns.length > 0, "the constrained columns");
  if (v.type === "check") need("check", (v.check ?? "").trim() !== "", "a boolean SQL expression");
  if (v.type === "foreign_key")
    need("references", v.references !== undefined, "the referenced table and columns");
  if (v.type === "exclude") need("exclude", v.exclude !== undefined, "index_method, elements, predicate");
  if (v.type === "foreign_key" && v.references && columns.length > 0) {
    if (v.references.columns.length !== columns.length) {
      fail(
        ctx,
        ["references", "columns"],
        `lists ${v.references.columns.length} column(s) but the constraint has ${columns.length}`,
      );
      bad = true;
    }
    for (const c of v.references.onDeleteSetColumns ?? []) {
      if (!columns.includes(c)) {
        fail(ctx, ["references", "on_delete_set_columns"], `"${c}" is not one of the constraint's columns`);
        bad = true;
      }
    }
  }
  if (bad) return z.NEVER;
  const deferral = { deferrable: v.deferrable ?? false, initiallyDeferred: v.initially_deferred ?? false };
  const withIndexParameters = <T extends object>(out: T): T => {
    if (v.index_parameters && !isEmptyObject(v.index_parameters))
      (out as { indexParameters?: IndexParametersSpec }).indexParameters = v.index_parameters;
    return out;
  };
  switch (v.type) {
    case "unique":
      return withIndexParameters({
        type: "unique",
        name: v.name,
        columns,
        nullsNotDistinct: v.nulls_not_distinct ?? false,
        ...deferral,
      });
    case "check": {
      const out: TableConstraintSpec = {
        type: "check",
        name: v.name,
        check: v.check!,
        noInherit: v.no_inherit ?? false,
      };
      if (columns.length > 0) out.columns = columns;
      return out;
    }
    case "primary_key":
      return withIndexParameters({ type: "primary_key", name: v.name, columns, ...deferral });
    case "foreign_key":
      return { type: "foreign_key", name: v.name, columns, references: v.references!, ...deferral };
    case "exclude":
      return withIndexParameters({ type: "exclude", name: v.name, exclude: v.exclude!, ...deferral });
  }
});

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

const createTable = fields({
  name: identifier,
  columns: z.array(column),
  constraints: z.array(tableConstraint).optional(),
  comment: z.string().optional(),
}).transform((v, ctx): CreateTableSpec => {
  let bad = false;
  if (v.columns.length === 0) {
    fail(ctx, ["columns"], "a table needs at least one column");
    bad = true;
  }
  const names = new Set<string>();
  v.columns.forEach((c, i) => {
    if (names.has(c.name)) {
      fail(ctx, ["columns", i, "name"], `duplicate column "${c.name}"`);
      bad = true;
    }
    names.add(c.name);
  });
  const constraintNames = new Set<string>();
  v.constraints?.forEach((c, i) => {
    if (constraintNames.has(c.name)) {
      fail(ctx, ["constraints", i, "name"], `duplicate constraint "${c.name}"`);
      bad = true;
    }
    constraintNames.add(c.name);
    if (c.type === "primary_key" && v.columns.some((col) => col.pk)) {
      fail(
        ctx,
        ["constraints", i],
        "the primary key is already set by `pk: true` on columns; set it in one place only",
      );
      bad = true;
    }
    const mustExist = (list: readonly string[] | undefined, path: PropertyKey[]) =>
      list?.forEach((col, j) => {
        if (!names.has(col)) {
          fail(ctx, [...path, j], `"${col}" is not a column of table "${v.name}"`);
          bad = true;
        }
      });
    if ("columns" in c) mustExist(c.columns, ["constraints", i, "columns"]);
    if ("indexParameters" in c)
      mustExist(c.indexParameters?.includeColumns, ["constraints", i, "index_parameters", "include_columns"]);
  });
  if (bad) return z.NEVER;
  const out: CreateTableSpec = { op: "create_table", name: v.name, columns: v.columns };
  if (v.constraints) out.constraints = v.constraints;
  if (v.comment !== undefined) out.comment = v.comment;
  return out;
});

const dropTable = fields({ name: identifier }).transform(
  (v): DropTableSpec => ({ op: "drop_table", name: v.name }),
);

const renameTable = fields({ from: identifier, to: identifier }).transform(
  (v): RenameTableSpec => ({ op: "rename_table", from: v.from, to: v.to }),
);

const addColumn = fields({ table: identifier, column: column, up: optionalSql }).transform(
  (v): AddColumnSpec => {
    const out: AddColumnSpec = { op: "add_column", table: v.table, column: v.column };
    setIf(out, "up", v.up);
    return out;
  },
);

const dropColumn = fields({ table: identifier, column: identifier, down: optionalSql }).transform(
  (v): DropColumnSpec => {
    const out: DropColumnSpec = { op: "drop_column", table: v.table, column: v.column };
    setIf(out, "down", v.down);
    return out;
  },
);

const renameColumn = fields({ table: identifier, from: identifier, to: identifier }).transform(
  (v): RenameColumnSpec => ({ op: "rename_column", table: v.table, from: v.from, to: v.to }),
);

const ALTER_CHANGES = [
  "name",
  "type",
  "nullable",
  "default",
  "unique",
  "check",
  "references",
  "comment",
] as const;

const alterColumn = fields({
  table: identifier,
  column: identifier,
  name: identifier.optional(),
  type: sql.optional(),
  nullable: z.boolean().optional(),
  default: z.union([sql, z.null()]).optional(),
  unique: uniqueConstraint.optional(),
  check: checkConstraint.optional(),
  references: foreignKeyReference.optional(),
  comment: z.union([z.string(), z.null()]).optional(),
  up: optionalSql,
  down: optionalSql,
}).transform((v, ctx): AlterColumnSpec => {
  const changes = ALTER_CHANGES.filter((k) => v[k] !== undefined);
  if (changes.length === 0) {
    fail(ctx, [], `changes nothing: give at least one of ${ALTER_CHANGES.join(", ")}`);
    return z.NEVER;
  }
  if (changes.length === 1 && changes[0] === "name" && (v.up || v.down)) {
    fail(ctx, [v.up ? "up" : "down"], "a rename alone copies no data, so up and down are not allowed");
    return z.NEVER;
  }
  const out: AlterColumnSpec = { op: "alter_column", table: v.table, column: v.column };
  if (v.name !== undefined) out.name = v.name;
  if (v.type !== undefined) out.type = v.type;
  if (v.nullable !== undefined) out.nullable = v.nullable;
  if (v.default !== undefined) out.default = v.default;
  if (v.unique) out.unique = v.unique;
  if (v.check) out.check = v.check;
  if (v.references) out.references = v.references;
  if (v.comment !== undefined) out.comment = v.comment;
  setIf(out, "up", v.up);
  setIf(out, "down", v.down);
  return out;
});

const indexField = fields({
  column: identifier,
  collate: z.string().optional(),
  sort: keyword(["ASC", "DESC"] as const).optional(),
  nulls: keyword(["FIRST", "LAST"] as const).optional(),
  opclass: fields({ name: identifier, params: z.array(sql).optional() }).optional(),
}).transform((v): IndexColumnSpec => {
  const out: IndexColumnSpec = { column: v.column };
  setIf(out, "collate", v.collate);
  if (v.sort) out.sort = v.sort;
  if (v.nulls) out.nulls = v.nulls;
  if (v.opclass) {
    out.opclass = { name: v.opclass.name };
    if (v.opclass.params?.length) out.opclass.params = v.opclass.params;
  }
  return out;
});

/**
 * pgroll has written create_index's columns three ways: a list of names (up to v0.9), a mapping
 * of name -> settings (v0.10) and a list of `{column, ...settings}` (since; the examples' form).
 * All three are read, as the list form.
 */
const indexColumns = z.preprocess((v) => {
  if (Array.isArray(v)) return v.map((item) => (typeof item === "string" ? { column: item } : item));
  if (typeof v === "object" && v !== null)
    return Object.entries(v).map(([name, settings]) => ({ column: name, ...(settings ?? {}) }));
  return v;
}, z.array(indexField));

const createIndex = fields({
  name: identifier,
  table: identifier,
  columns: indexColumns,
  method: indexMethod.optional(),
  unique: z.boolean().optional(),
  predicate: z.string().optional(),
  storage_parameters: z.string().optional(),
}).transform((v, ctx): CreateIndexSpec => {
  if (v.columns.length === 0) {
    fail(ctx, ["columns"], "an index needs at least one column");
    return z.NEVER;
  }
  const out: CreateIndexSpec = {
    op: "create_index",
    name: v.name,
    table: v.table,
    columns: v.columns,
    method: v.method ?? "btree",
    unique: v.unique ?? false,
  };
  setIf(out, "predicate", v.predicate?.trim() === "" ? undefined : v.predicate);
  setIf(out, "storageParameters", v.storage_parameters?.trim() === "" ? undefined : v.storage_parameters);
  return out;
});

const dropIndex = fields({ name: identifier }).transform(
  (v): DropIndexSpec => ({ op: "drop_index", name: v.name }),
);

/** The up/down maps must cover exactly the given columns. */
function checkPerColumn(
  ctx: Ctx,
  key: "up" | "down",
  map: Record<string, string> | undefined,
  columns: readonly string[],
): boolean {
  let ok = true;
  for (const c of columns) {
    if (map?.[c] === undefined) {
      fail(ctx, [key], `needs an expression for column "${c}" (one per constrained column)`);
      ok = false;
    }
  }
  for (const k of Object.keys(map ?? {})) {
    if (!columns.includes(k)) {
      fail(ctx, [key, k], `"${k}" is not one of the constraint's columns (${columns.join(", ")})`);
      ok = false;
    }
  }
  return ok;
}

const createConstraint = fields({
  table: identifier,
  name: identifier,
  type: z.enum(["unique", "check", "foreign_key", "primary_key"]),
  columns: z.array(identifier).optional(),
  check: z.string().optional(),
  no_inherit: z.boolean().optional(),
  references: tableForeignKeyReference.optional(),
  index_parameters: indexParameters.optional(),
  up: sqlPerColumn,
  down: sqlPerColumn,
}).transform((v, ctx): CreateConstraintSpec => {
  let bad = false;
  const notFor = (key: string, value: unknown) => {
    if (!isUnset(value)) {
      fail(ctx, [key], `does not apply to a ${v.type} constraint`);
      bad = true;
    }
  };
  if (v.type !== "check") {
    notFor("check", v.check);
    notFor("no_inherit", v.no_inherit);
  }
  if (v.type !== "foreign_key") notFor("references", v.references);
  if (v.type === "check" || v.type === "foreign_key") notFor("index_parameters", v.index_parameters);
  const columns = v.columns ?? [];
  if (columns.length === 0) {
    fail(
      ctx,
      ["columns"],
      "required: the columns the constraint covers (each needs an up and a down expression)",
    );
    bad = true;
  }
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    if (seen.has(c)) {
      fail(ctx, ["columns", i], `"${c}" is listed twice`);
      bad = true;
    }
    seen.add(c);
  });
  if (v.type === "check" && (v.check ?? "").trim() === "") {
    fail(ctx, ["check"], "required for a check constraint (a boolean SQL expression)");
    bad = true;
  }
  if (v.type === "foreign_key") {
    if (!v.references) {
      fail(ctx, ["references"], "required for a foreign_key constraint (the referenced table and columns)");
      bad = true;
    } else if (columns.length > 0 && v.references.columns.length !== columns.length) {
      fail(
        ctx,
        ["references", "columns"],
        `lists ${v.references.columns.length} column(s) but the constraint has ${columns.length}`,
      );
      bad = true;
    }
  }
  if (columns.length > 0) {
    if (!checkPerColumn(ctx, "up", v.up, columns)) bad = true;
    if (!checkPerColumn(ctx, "down", v.down, columns)) bad = true;
  }
  if (bad) return z.NEVER;
  const common = {
    op: "create_constraint" as const,
    table: v.table,
    name: v.name,
    columns,
    up: v.up,
    down: v.down,
  };
  const ip =
    v.index_parameters && !isEmptyObject(v.index_parameters) ? { indexParameters: v.index_parameters } : {};
  switch (v.type) {
    case "unique":
      return { ...common, type: "unique", ...ip };
    case "check":
      return { ...common, type: "check", check: v.check!, noInherit: v.no_inherit ?? false };
    case "foreign_key":
      return { ...common, type: "foreign_key", references: v.references! };
    case "primary_key":
      return { ...common, type: "primary_key", ...ip };
  }
});

const dropConstraint = fields({
  table: identifier,
  name: identifier,
  up: optionalSql,
  down: optionalSql,
}).transform((v, ctx): DropConstraintSpec => {
  if (!v.down) {
    fail(ctx, ["down"], "required: the old column value while the constraint is being dropped");
    return z.NEVER;
  }
  const out: DropConstraintSpec = { op: "drop_constraint", table: v.table, name: v.name, down: v.down };
  setIf(out, "up", v.up);
  return out;
});

const dropMultiColumnConstraint = fields({
  table: identifier,
  name: identifier,
  up: sqlPerColumn.optional(),
  down: sqlPerColumn,
}).transform((v, ctx): DropMultiColumnConstraintSpec => {
  if (Object.keys(v.down).length === 0) {
    fail(ctx, ["down"], "needs an expression for each column the constraint covers");
    return z.NEVER;
  }
  const out: DropMultiColumnConstraintSpec = {
    op: "drop_multicolumn_constraint",
    table: v.table,
    name: v.name,
    down: v.down,
  };
  if (v.up && Object.keys(v.up).length > 0) out.up = v.up;
  return out;
});

const renameConstraint = fields({ table: identifier, from: identifier, to: identifier }).transform(
  (v): RenameConstraintSpec => ({ op: "rename_constraint", table: v.table, from: v.from, to: v.to }),
);

const setReplicaIdentity = fields({
  table: identifier,
  identity: fields({
    type: keyword(["full", "default", "nothing", "index"] as const, false),
    index: z.string().optional(),
  }),
}).transform((v, ctx): SetReplicaIdentitySpec => {
  const { type, index } = v.identity;
  if (type === "index") {
    const parsed = identifier.safeParse(index ?? "");
    if (!index || !parsed.success) {
      fail(
        ctx,
        ["identity", "index"],
        index
          ? (parsed.error?.issues[0]?.message ?? "invalid")
          : "required when type is index (the index to use)",
      );
      return z.NEVER;
    }
    return { op: "set_replica_identity", table: v.table, identity: { type, index } };
  }
  if (index) {
    fail(ctx, ["identity", "index"], `only applies when type is index (type is ${type})`);
    return z.NEVER;
  }
  return { op: "set_replica_identity", table: v.table, identity: { type } };
});

const rawSql = fields({ up: sql, down: optionalSql, onComplete: z.boolean().optional() }).transform(
  (v, ctx): SqlSpec => {
    const onComplete = v.onComplete ?? false;
    if (onComplete && v.down) {
      fail(ctx, ["down"], "not allowed with onComplete: true (a completed migration cannot be rolled back)");
      return z.NEVER;
    }
    const out: SqlSpec = { op: "sql", up: v.up, onComplete };
    setIf(out, "down", v.down);
    return out;
  },
);

/** Every operation pgroll defines, by the key that names it in a file. */
export const OPERATION_SCHEMAS = {
  create_table: createTable,
  drop_table: dropTable,
  rename_table: renameTable,
  add_column: addColumn,
  drop_column: dropColumn,
  rename_column: renameColumn,
  alter_column: alterColumn,
  create_index: createIndex,
  drop_index: dropIndex,
  create_constraint: createConstraint,
  drop_constraint: dropConstraint,
  drop_multicolumn_constraint: dropMultiColumnConstraint,
  rename_constraint: renameConstraint,
  set_replica_identity: setReplicaIdentity,
  sql: rawSql,
} satisfies { [K in OperationName]: z.ZodType<Extract<OperationSpec, { op: K }>> };

export const OPERATION_NAMES = Object.keys(OPERATION_SCHEMAS) as OperationName[];

/** A version schema becomes part of a PostgreSQL schema name: letters, digits and underscores, at most 63 bytes. */
export const VERSION_SCHEMA_PATTERN = /^[A-Za-z0-9_]{1,63}$/;
