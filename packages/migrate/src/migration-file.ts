/**
 * Migration files: YAML or JSON files of operations in pgroll's operation format, so that pgroll
 * users can bring their migrations as they are. See migration-file-schema.ts for the operations,
 * their fields and the defaults pgroll gives them.
 *
 *   operations:
 *     - add_column:
 *         table: products
 *         up: UPPER(name)
 *         column: { name: description, type: varchar(255), nullable: true }
 *
 * A file is refused, before anything touches a database, when it has an unknown operation or
 * field, lacks a required field, has a bad name or value, or (checkSqlExpressions) holds SQL that
 * does not parse. The MigrationError names the file, the line, the operation and the field.
 */
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { MigrationError, type MigrationIssue } from "./errors.js";
import {
  type ColumnSpec,
  OPERATION_NAMES,
  OPERATION_SCHEMAS,
  type OperationName,
  type OperationSpec,
  VERSION_SCHEMA_PATTERN,
} from "./migration-file-schema.js";
import { getSqlFragmentChecker, type SqlFragmentKind } from "./sql-expression.js";

export type * from "./migration-file-schema.js";
export { MAX_IDENTIFIER_BYTES, OPERATION_NAMES } from "./migration-file-schema.js";

export interface MigrationFile {
  /** The file's `name`, or else its file name without the extension ("03_add_column"). */
  name: string;
  /** The file's `version_schema`: the name of the version schema to use instead of one made from `name`. */
  versionSchema?: string;
  /** At least one. */
  operations: OperationSpec[];
  /** Where the migration came from (the path, or the name given to parseMigrationFile). */
  source: string;
}

const TOP_LEVEL_FIELDS = ["name", "version_schema", "operations"] as const;

/** Where things are in the text each MigrationFile was parsed from (for errors found after parsing). */
const locators = new WeakMap<MigrationFile, Locate>();

/**
 * Parses and validates a migration file's text. YAML or JSON: JSON when `source` ends in .json,
 * YAML when it ends in .yaml/.yml, otherwise JSON if the text parses as JSON, else YAML.
 * Throws MigrationError (code BATON_MIGRATION_INVALID) listing every problem found.
 * Does not check that SQL parses: see checkSqlExpressions (loadMigrationFile does both).
 */
export function parseMigrationFile(text: string, source: string): MigrationFile {
  const { data, locate } = readDocument(text.replace(/^\uFEFF/, ""), source);
  const issues: MigrationIssue[] = [];
  const add = (issue: MigrationIssue, path: PropertyKey[]) => {
    const pos = locate(path);
    issues.push(pos ? { ...issue, ...pos } : issue);
  };

  if (data === undefined || data === null) {
    throw invalid(source, [
      { path: "", reason: "the file is empty; expected `operations:` with a list of operations" },
    ]);
  }
  if (!isPlainObject(data)) {
    throw invalid(source, [
      {
        path: "",
        reason: `expected a mapping with \`operations:\` (a list of operations), got ${describe(data)}`,
        ...locate([]),
      },
    ]);
  }

  for (const key of Object.keys(data)) {
    if (!(TOP_LEVEL_FIELDS as readonly string[]).includes(key)) {
      add({ path: key, reason: `unknown field "${key}" (expected: ${TOP_LEVEL_FIELDS.join(", ")})` }, [key]);
    }
  }

  let name = defaultName(source);
  if ("name" in data) {
    if (typeof data.name !== "string" || data.name.trim() === "") {
      add({ path: "name", reason: `must be a non-empty string, got ${describe(data.name)}` }, ["name"]);
    } else {
      name = data.name;
    }
  } else if (name === "") {
    add({ path: "name", reason: "required: the migration has no file name to take its name from" }, []);
  }

  let versionSchema: string | undefined;
  if ("version_schema" in data) {
    const v = data.version_schema;
    if (typeof v !== "string" || !VERSION_SCHEMA_PATTERN.test(v)) {
      add(
        {
          path: "version_schema",
          reason: `must be 1 to 63 letters, digits or underscores (it becomes part of a schema name), got ${describe(v)}`,
        },
        ["version_schema"],
      );
    } else {
      versionSchema = v;
    }
  }

  const operations: OperationSpec[] = [];
  /** By index in the file; undefined where an operation was refused. */
  const parsed: (OperationSpec | undefined)[] = [];
  const rawOps = data.operations;
  if (rawOps === undefined || rawOps === null) {
    add({ path: "operations", reason: "required: a list of operations" }, ["operations"]);
  } else if (!Array.isArray(rawOps)) {
    add({ path: "operations", reason: `expected a list of operations, got ${describe(rawOps)}` }, [
      "operations",
    ]);
  } else if (rawOps.length === 0) {
    add({ path: "operations", reason: "a migration needs at least one operation" }, ["operations"]);
  } else {
    rawOps.forEach((raw, index) => {
      const spec = parseOperation(raw, index, add);
      if (spec) operations.push(spec);
      parsed[index] = spec;
    });
    checkIsolatedSql(parsed, add);
  }

  if (issues.length > 0) throw invalid(source, byLine(issues));
  const file: MigrationFile = { name, operations, source };
  if (versionSchema !== undefined) file.versionSchema = versionSchema;
  locators.set(file, locate);
  return file;
}

/**
 * Reads, parses and validates a migration file, including that its SQL parses
 * (checkSqlExpressions). Throws MigrationError: BATON_MIGRATION_UNREADABLE when the file cannot
 * be read, BATON_MIGRATION_INVALID when it is not a valid migration.
 */
export async function loadMigrationFile(path: string): Promise<MigrationFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new MigrationError({
      code: "BATON_MIGRATION_UNREADABLE",
      file: path,
      issues: [{ path: "", reason: `cannot read the file: ${(err as Error).message}` }],
      cause: err,
    });
  }
  const file = parseMigrationFile(text, path);
  await checkSqlExpressions(file);
  return file;
}

/** One piece of SQL in a migration, where it is and what it must be. */
export interface SqlFragment {
  operationIndex: number;
  /** Field path inside the operation, in the file's terms (e.g. "column.check.constraint", "up.sellers_zip"). */
  path: string;
  kind: SqlFragmentKind;
  text: string;
}

interface Fragment {
  operationIndex: number;
  path: PropertyKey[];
  kind: SqlFragmentKind;
  text: string;
}

type AddFragment = (path: PropertyKey[], kind: SqlFragmentKind, text: string | null | undefined) => void;

/** Every piece of SQL a migration holds: up/down expressions, types, defaults, checks, predicates, raw SQL... */
export function sqlFragments(file: MigrationFile): SqlFragment[] {
  return collectFragments(file).map((f) => ({ ...f, path: formatPath(f.path) }));
}

function collectFragments(file: MigrationFile): Fragment[] {
  const out: Fragment[] = [];
  file.operations.forEach((spec, operationIndex) => {
    const add: AddFragment = (path, kind, text) => {
      if (typeof text === "string") out.push({ operationIndex, path, kind, text });
    };
    const perColumn = (key: string, map: Record<string, string> | undefined) => {
      for (const [column, text] of Object.entries(map ?? {})) add([key, column], "expression", text);
    };
    switch (spec.op) {
      case "create_table":
        spec.columns.forEach((c, i) => {
          columnFragments(["columns", i], c, add);
        });
        spec.constraints?.forEach((c, i) => {
          const at = ["constraints", i];
          if (c.type === "check") add([...at, "check"], "condition", c.check);
          if (c.type === "exclude") {
            add([...at, "exclude", "elements"], "exclude_elements", c.exclude.elements);
            add([...at, "exclude", "predicate"], "condition", c.exclude.predicate);
          }
          if (c.type === "unique" || c.type === "primary_key" || c.type === "exclude") {
            const sp = c.indexParameters?.storageParameters;
            add([...at, "index_parameters", "storage_parameters"], "storage_parameters", sp);
          }
        });
        break;
      case "add_column":
        columnFragments(["column"], spec.column, add);
        add(["up"], "expression", spec.up);
        break;
      case "drop_column":
        add(["down"], "expression", spec.down);
        break;
      case "alter_column":
        add(["type"], "type", spec.type);
        add(["default"], "expression", spec.default);
        add(["check", "constraint"], "condition", spec.check?.constraint);
        add(["up"], "expression", spec.up);
        add(["down"], "expression", spec.down);
        break;
      case "create_index":
        add(["predicate"], "condition", spec.predicate);
        add(["storage_parameters"], "storage_parameters", spec.storageParameters);
        break;
      case "create_constraint":
        if (spec.type === "check") add(["check"], "condition", spec.check);
        if (spec.type === "unique" || spec.type === "primary_key") {
          const sp = spec.indexParameters?.storageParameters;
          add(["index_parameters", "storage_parameters"], "storage_parameters", sp);
        }
        perColumn("up", spec.up);
        perColumn("down", spec.down);
        break;
      case "drop_constraint":
        add(["up"], "expression", spec.up);
        add(["down"], "expression", spec.down);
        break;
      case "drop_multicolumn_constraint":
        perColumn("up", spec.up);
        perColumn("down", spec.down);
        break;
      case "sql":
        add(["up"], "statements", spec.up);
        add(["down"], "statements", spec.down);
        break;
      default:
        break;
    }
  });
  return out;
}

function columnFragments(at: PropertyKey[], column: ColumnSpec, add: AddFragment): void {
  add([...at, "type"], "type", column.type);
  add([...at, "default"], "expression", column.default);
  add([...at, "check", "constraint"], "condition", column.check?.constraint);
  const g = column.generated;
  if (g && "expression" in g) add([...at, "generated", "expression"], "expression", g.expression);
  if (g && "identity" in g) {
    add([...at, "generated", "identity", "sequence_options"], "sequence_options", g.identity.sequenceOptions);
  }
}

/**
 * Checks that every piece of SQL in the migration parses (PostgreSQL's parser, no database):
 * `up`/`down` expressions (a plain expression or a whole `SELECT ...`), column types, defaults,
 * check constraints, index predicates, storage parameters and raw `sql` statements. Throws
 * MigrationError (BATON_MIGRATION_INVALID) listing every fragment that does not.
 */
export async function checkSqlExpressions(file: MigrationFile): Promise<void> {
  const check = await getSqlFragmentChecker();
  const locate = locators.get(file);
  const issues: MigrationIssue[] = [];
  for (const fragment of collectFragments(file)) {
    const reason = check(fragment.kind, fragment.text);
    if (reason === undefined) continue;
    const name = file.operations[fragment.operationIndex]!.op;
    const issue: MigrationIssue = {
      operation: { index: fragment.operationIndex, name },
      path: formatPath(fragment.path),
      reason,
    };
    const pos = locate?.(["operations", fragment.operationIndex, name, ...fragment.path]);
    issues.push(pos ? { ...issue, ...pos } : issue);
  }
  if (issues.length > 0) throw invalid(file.source, byLine(issues));
}

/** Top to bottom of the file (a stable sort: problems on one line keep their order). */
function byLine(issues: MigrationIssue[]): MigrationIssue[] {
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || a.i - b.i)
    .map((x) => x.issue);
}

// ---------------------------------------------------------------------------------------------

type AddIssue = (issue: MigrationIssue, path: PropertyKey[]) => void;

function parseOperation(raw: unknown, index: number, add: AddIssue): OperationSpec | undefined {
  const at: PropertyKey[] = ["operations", index];
  if (!isPlainObject(raw)) {
    add(
      {
        operation: { index, name: "?" },
        path: "",
        reason: `expected a mapping with one key, the operation's name (e.g. \`add_column:\`), got ${describe(raw)}`,
      },
      at,
    );
    return undefined;
  }
  const keys = Object.keys(raw);
  if (keys.length !== 1) {
    add(
      {
        operation: { index, name: keys.length === 0 ? "?" : keys.join("+") },
        path: "",
        reason:
          keys.length === 0
            ? "empty operation: expected one key, the operation's name"
            : `an operation has exactly one key, the operation's name; found ${keys.length}: ${keys.join(", ")} (put each operation in its own list item)`,
      },
      at,
    );
    return undefined;
  }
  const opName = keys[0]!;
  const operation = { index, name: opName };
  if (!Object.hasOwn(OPERATION_SCHEMAS, opName)) {
    const guess = closest(opName, OPERATION_NAMES);
    add(
      {
        operation,
        path: "",
        reason: `unknown operation "${opName}"${guess ? ` (did you mean "${guess}"?)` : ""}; valid operations: ${OPERATION_NAMES.join(", ")}`,
      },
      [...at, opName],
    );
    return undefined;
  }
  const body = raw[opName];
  if (!isPlainObject(body)) {
    add(
      {
        operation,
        path: "",
        reason: `expected the operation's fields (a mapping), got ${body === null || body === undefined ? "nothing" : describe(body)}`,
      },
      [...at, opName],
    );
    return undefined;
  }
  const schema: z.ZodType<OperationSpec> = OPERATION_SCHEMAS[opName as OperationName];
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    let path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys" && issue.keys.length === 1) path = [...path, issue.keys[0]!];
    add({ operation, path: formatPath(path), reason: issueReason(issue, valueAt(body, issue.path)) }, [
      ...at,
      opName,
      ...path,
    ]);
  }
  return undefined;
}

/**
 * A `sql` operation that runs on start must be alone in its migration: pgroll cannot tell what
 * it changed, so it cannot build the other operations' view of the schema around it.
 */
function checkIsolatedSql(operations: (OperationSpec | undefined)[], add: AddIssue): void {
  if (operations.length < 2) return;
  operations.forEach((spec, index) => {
    if (spec?.op === "sql" && !spec.onComplete) {
      add(
        {
          operation: { index, name: "sql" },
          path: "",
          reason:
            "a sql operation must be the only operation in its migration (move it to a migration of its own, or set onComplete: true to run it when the migration completes)",
        },
        ["operations", index],
      );
    }
  });
}

function issueReason(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return "required";
      return `expected ${article(issue.expected)}, got ${describe(value)}${quoteHint(issue.expected, value)}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describe(value)}`;
    case "invalid_union": {
      const expected = new Set<string>();
      for (const branch of issue.errors)
        for (const e of branch) if (e.code === "invalid_type") expected.add(e.expected);
      if (expected.size === 0) return issue.message;
      return `expected ${[...expected].map(article).join(" or ")}, got ${describe(value)}${quoteHint([...expected][0]!, value)}`;
    }
    case "invalid_key":
      return `bad key: ${issue.issues[0]?.message ?? issue.message}`;
    default:
      return issue.message;
  }
}

function article(type: string): string {
  if (type === "null") return "null";
  if (type === "array") return "a list";
  if (type === "object" || type === "record") return "a mapping";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** YAML reads `default: 100` as a number and `up: true` as a boolean; pgroll wants SQL text. */
function quoteHint(expected: string, value: unknown): string {
  if (expected === "string" && (typeof value === "number" || typeof value === "boolean")) {
    return ` (SQL goes in quotes in YAML: "${String(value)}")`;
  }
  return "";
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return `${typeof value} ${String(value)}`;
}

/** `columns[0].check.name` from ["columns", 0, "check", "name"]. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function defaultName(source: string): string {
  const base = basename(source);
  return basename(base, extname(base));
}

function invalid(file: string, issues: MigrationIssue[]): MigrationError {
  return new MigrationError({ code: "BATON_MIGRATION_INVALID", file, issues });
}

/** The known name nearest to `name`, if it is near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Reading YAML / JSON with positions

/** Line and column of the node at `path`, or of its nearest ancestor that has one. */
type Locate = (path: readonly PropertyKey[]) => { line: number; column: number } | undefined;

interface ReadDocument {
  data: unknown;
  locate: Locate;
}

function readDocument(text: string, source: string): ReadDocument {
  const ext = extname(source).toLowerCase();
  const lineCounter = new LineCounter();
  const parseYaml = () => parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator =
    (doc: Document | undefined): Locate =>
    (path) => {
      if (!doc) return undefined;
      // Follow the path as far as it exists in the document: a mapping entry is found at its key
      // (the line that names it), a list item at the item. A missing field is reported at its parent.
      let node: unknown = doc.contents;
      let at = isNode(node) ? node.range?.[0] : undefined;
      for (const segment of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === segment);
          if (!pair) break;
          if (isNode(pair.key) && pair.key.range) at = pair.key.range[0];
          node = pair.value;
        } else if (isSeq(node) && typeof segment === "number") {
          const item = node.items[segment];
          if (!isNode(item) || !item.range) break;
          at = item.range[0];
          node = item;
        } else {
          break;
        }
      }
      if (at === undefined) return undefined;
      const pos = lineCounter.linePos(at);
      return { line: pos.line, column: pos.col };
    };

  const looksJson = ext === ".json" || (ext !== ".yaml" && ext !== ".yml" && /^\s*[{[]/.test(text));
  if (looksJson) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      if (ext === ".json") {
        throw invalid(source, [
          { path: "", reason: `JSON syntax: ${(err as Error).message}`, ...jsonErrorLine(err, text) },
        ]);
      }
      data = undefined; // not JSON after all: read it as YAML below
    }
    if (data !== undefined) {
      const doc = parseYaml();
      return { data, locate: locator(doc.errors.length === 0 ? doc : undefined) };
    }
  }

  const doc = parseYaml();
  if (doc.errors.length > 0) {
    throw invalid(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          path: "",
          reason: `YAML syntax: ${e.message.split("\n")[0]!}`,
          line: pos.line,
          column: pos.col,
        };
      }),
    );
  }
  return { data: doc.toJS({ maxAliasCount: 100 }), locate: locator(doc) };
}

/** JSON.parse says "at position N" (Node 20) or "(line L column C)" (newer); turn either into a line. */
function jsonErrorLine(err: unknown, text: string): { line?: number } {
  const message = (err as Error).message ?? "";
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return { line: Number(lc[1]) };
  const p = /position (\d+)/.exec(message);
  if (p) return { line: text.slice(0, Number(p[1])).split("\n").length };
  return {};
}
