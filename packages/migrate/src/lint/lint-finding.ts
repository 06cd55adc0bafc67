/** `error` fails `baton migrate lint`; `warning` is printed but does not. */
export type LintSeverity = "error" | "warning";

/** One problem in one statement, and what to write instead. */
export interface LintFinding {
  /** Stable id of the rule (`create-index-non-concurrently`, `squawk/prefer-robust-stmts`, `syntax`). */
  rule: string;
  severity: LintSeverity;
  file: string;
  /** Part of the file the SQL came from when it is not all SQL, e.g. "operation 2 (sql.up)". */
  where?: string;
  /** 1-based. */
  line: number;
  /** 1-based, counted in characters (code points), not bytes. */
  column: number;
  /** The statement, on one line and shortened. */
  statement: string;
  /** What is wrong and what it does to the running application. */
  message: string;
  /** The safe alternative. */
  fix: string;
}

/** What a lint run found, plus notes on what it could not check (e.g. squawk missing on this platform). */
export interface LintReport {
  findings: LintFinding[];
  notes: string[];
}
