/**
 * Errors of @baton/migrate. One class, `MigrationError`, with a stable `code` that programs can
 * switch on and a message an operator can act on without reading code:
 *
 *   migrations/03_add_column.yaml:14: operation 2 (add_column): column.type: required
 *
 * (file, line when known, the operation's 0-based index and name, the field path, the reason).
 */

/** Stable codes. Add new ones here; never change the meaning of an existing one. */
export type MigrationErrorCode =
  /** The migration file is not valid: bad syntax, unknown operation or field, bad value, SQL that does not parse. */
  | "BATON_MIGRATION_INVALID"
  /** The migration file could not be read at all (missing, permissions, not UTF-8 text...). */
  | "BATON_MIGRATION_UNREADABLE";

/** Which operation of a migration a problem is in. `index` is 0-based; `name` is the operation's name (e.g. "add_column"). */
export interface MigrationOperationRef {
  index: number;
  name: string;
}

/** One problem found in a migration. A MigrationError carries one or more. */
export interface MigrationIssue {
  /** The operation the problem is in, when it is in one. */
  operation?: MigrationOperationRef;
  /** Field path inside the operation (or inside the file when there is no operation), e.g. "column.type"; "" for the whole. */
  path: string;
  /** What is wrong, e.g. "required". */
  reason: string;
  /** 1-based line (and column) in the file, when known. */
  line?: number;
  column?: number;
}

export interface MigrationErrorInit {
  code: MigrationErrorCode;
  /** The migration file (its path, or whatever name the caller gave the text). */
  file: string;
  /** At least one. The first is the headline; all are listed in the message. */
  issues: MigrationIssue[];
  cause?: unknown;
}

/** How many problems a message lists before it says "and N more". */
const MAX_LISTED = 20;

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  readonly code: MigrationErrorCode;
  readonly file: string;
  /** The first problem's operation, path, reason and line (the same as `issues[0]`). */
  readonly operation?: MigrationOperationRef;
  readonly path: string;
  readonly reason: string;
  readonly line?: number;
  readonly issues: readonly MigrationIssue[];

  constructor(init: MigrationErrorInit) {
    const issues = init.issues.length > 0 ? init.issues : [{ path: "", reason: "invalid migration" }];
    super(formatIssues(init.file, issues), init.cause === undefined ? undefined : { cause: init.cause });
    const first = issues[0]!;
    this.code = init.code;
    this.file = init.file;
    if (first.operation) this.operation = first.operation;
    this.path = first.path;
    this.reason = first.reason;
    if (first.line !== undefined) this.line = first.line;
    this.issues = issues;
  }
}

/** `file:line: operation 2 (add_column): column.type: required` */
export function formatIssue(file: string, issue: MigrationIssue): string {
  let out = issue.line !== undefined ? `${file}:${issue.line}` : file;
  // Counted from 1, as people count (the engine's messages say "operation 2" for the second).
  if (issue.operation) out += `: operation ${issue.operation.index + 1} (${issue.operation.name})`;
  if (issue.path) out += `: ${issue.path}`;
  return `${out}: ${issue.reason}`;
}

function formatIssues(file: string, issues: readonly MigrationIssue[]): string {
  const lines = issues.slice(0, MAX_LISTED).map((i) => formatIssue(file, i));
  if (issues.length > MAX_LISTED) lines.push(`... and ${issues.length - MAX_LISTED} more problems`);
  return lines.join("\n");
}

export function isMigrationError(err: unknown): err is MigrationError {
  return err instanceof MigrationError;
}
