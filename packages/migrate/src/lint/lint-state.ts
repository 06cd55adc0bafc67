import type { Node, RangeVar } from "libpg-query";
import { alterTable, constantText, listName, names, nodeOf } from "./ast.js";

/**
 * How the statements reach PostgreSQL, which decides what runs inside a transaction block:
 * - `per-statement`: each statement commits on its own unless the file says BEGIN (psql's default);
 * - `wrapped`: the migration runner wraps the whole file in one transaction;
 * - `one-query`: the text is sent as one query string (Baton's `sql` operation, `psql -c`), which
 *   PostgreSQL runs as one implicit transaction when it holds more than one statement.
 */
export type TransactionMode = "per-statement" | "wrapped" | "one-query";

/** What earlier statements of a file did that changes whether a later one is safe. */
export class LintState {
  /** Tables created in this file: empty and unknown to running clients, so locking them harms no one. */
  private readonly created = new Set<string>();
  private lockTimeout: "none" | "session" | "local";
  private explicitBegin: number | undefined;
  /** Counts transactions, to tell whether two statements share one. */
  private transaction = 0;
  /** `table/constraint` added NOT VALID → the transaction it was added in. */
  private readonly notValid = new Map<string, { transaction: number; column?: string }>();
  /** `table.column` shown to hold no NULL by a validated CHECK (column IS NOT NULL). */
  private readonly provenNotNull = new Set<string>();
  private readonly wholeTextReason: string | undefined;

  constructor(mode: TransactionMode, statementCount: number, lockTimeoutSet: boolean) {
    this.lockTimeout = lockTimeoutSet ? "session" : "none";
    this.wholeTextReason =
      mode === "wrapped"
        ? "the migration runner wraps the whole file in one transaction"
        : mode === "one-query" && statementCount > 1
          ? "the statements are sent as one query, which PostgreSQL runs as one transaction"
          : undefined;
  }

  /** Whether a table was created earlier in this file. */
  isNew(table: RangeVar | string | undefined): boolean {
    const name = typeof table === "string" ? table.split(".").at(-1) : table?.relname;
    return name !== undefined && this.created.has(name);
  }

  get lockTimeoutSet(): boolean {
    return this.lockTimeout !== "none";
  }

  /** Why the current statement runs inside a transaction block, or undefined when it does not. */
  get transactionReason(): string | undefined {
    if (this.explicitBegin !== undefined) return `it follows the BEGIN on line ${this.explicitBegin}`;
    return this.wholeTextReason;
  }

  isProvenNotNull(table: RangeVar | undefined, column: string | undefined): boolean {
    return this.provenNotNull.has(`${table?.relname}.${column}`);
  }

  /** Whether `constraint` was added NOT VALID earlier in the transaction this statement runs in. */
  addedNotValidInThisTransaction(table: RangeVar | undefined, constraint: string | undefined): boolean {
    return this.notValid.get(`${table?.relname}/${constraint}`)?.transaction === this.transaction;
  }

  /** Takes in what a statement did; called after the rules have seen it. `line` is where it starts. */
  observe(node: Node, line: number): void {
    this.observeTransaction(node, line);
    this.observeSetting(node);
    const created = nodeOf(node, "CreateStmt")?.relation ?? nodeOf(node, "CreateTableAsStmt")?.into?.rel;
    if (created?.relname) this.created.add(created.relname);
    const renamed = nodeOf(node, "RenameStmt");
    if (renamed?.renameType === "OBJECT_TABLE" && this.isNew(renamed.relation) && renamed.newname)
      this.created.add(renamed.newname);
    this.observeConstraints(node);
    if (this.transactionReason === undefined) this.transaction++;
  }

  private observeTransaction(node: Node, line: number): void {
    const kind = nodeOf(node, "TransactionStmt")?.kind;
    if (kind === "TRANS_STMT_BEGIN" || kind === "TRANS_STMT_START") this.explicitBegin ??= line;
    else if (
      kind === "TRANS_STMT_COMMIT" ||
      kind === "TRANS_STMT_ROLLBACK" ||
      kind === "TRANS_STMT_PREPARE"
    ) {
      this.explicitBegin = undefined;
      this.transaction++;
      if (this.lockTimeout === "local") this.lockTimeout = "none";
    }
  }

  private observeSetting(node: Node): void {
    const set = nodeOf(node, "VariableSetStmt");
    if (!set) return;
    if (set.kind === "VAR_RESET_ALL") this.lockTimeout = "none";
    if (set.name?.toLowerCase() !== "lock_timeout") return;
    const value = set.kind === "VAR_SET_VALUE" ? constantText(set.args?.[0]) : undefined;
    // lock_timeout = 0 (any unit) switches the timeout off, as do DEFAULT and RESET.
    const off = value === undefined || /^\s*0+(\.0*)?\s*(ms|s|min|h|d)?\s*$/i.test(value);
    // SET LOCAL outside a transaction block has no effect beyond its own (implicit) transaction.
    if (off) this.lockTimeout = "none";
    else if (!set.is_local) this.lockTimeout = "session";
    else if (this.transactionReason !== undefined) this.lockTimeout = "local";
  }

  private observeConstraints(node: Node): void {
    const alter = alterTable(node);
    if (!alter) return;
    const table = alter.table?.relname;
    for (const cmd of alter.cmds) {
      if (cmd.subtype === "AT_AddConstraint") {
        const c = nodeOf(cmd.def, "Constraint");
        if (!c) continue;
        // CHECK (col IS NOT NULL), or PostgreSQL 18's NOT NULL constraint, once valid, prove col has no NULL.
        const column =
          c.contype === "CONSTR_NOTNULL"
            ? names(c.keys)[0]
            : notNullCheckColumn(c.contype === "CONSTR_CHECK" ? c.raw_expr : undefined);
        if (c.skip_validation)
          this.notValid.set(`${table}/${c.conname}`, { transaction: this.transaction, column });
        else if (column) this.provenNotNull.add(`${table}.${column}`);
      } else if (cmd.subtype === "AT_ValidateConstraint") {
        const column = this.notValid.get(`${table}/${cmd.name}`)?.column;
        if (column) this.provenNotNull.add(`${table}.${column}`);
      }
    }
  }
}

/** The column of a `CHECK (column IS NOT NULL)`, the form SET NOT NULL can use instead of a scan. */
function notNullCheckColumn(expr: Node | undefined): string | undefined {
  const test = nodeOf(expr, "NullTest");
  if (test?.nulltesttype !== "IS_NOT_NULL") return undefined;
  const ref = nodeOf(test.arg, "ColumnRef");
  const fields = ref?.fields ?? [];
  return fields.length === 1 && fields[0] ? listName({ List: { items: fields } }) : undefined;
}
