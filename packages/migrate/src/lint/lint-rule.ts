import type { Node } from "libpg-query";
import type { LintSeverity } from "./lint-finding.js";
import type { LintState } from "./lint-state.js";

/** What a rule says about one statement; the runner adds file, line and statement text. */
export interface RuleHit {
  severity: LintSeverity;
  message: string;
  fix: string;
  /** Byte offset of the part at fault (a column definition); the statement's start when absent. */
  at?: number;
}

export interface RuleContext {
  /** What the statements before this one did: tables created, lock_timeout set, transaction open. */
  state: LintState;
  /** The oldest PostgreSQL major version the SQL has to be safe on. */
  pgVersion: number;
  /** This statement's text, as written. */
  text: string;
}

/** One check on the PostgreSQL parse tree of a statement (one file per rule, listed in all-rules.ts). */
export interface LintRule {
  /** Stable id: shown to users and named in `-- baton-lint-ignore` comments. */
  id: string;
  /** One line for rule listings. */
  summary: string;
  /** Report only the first hit in a file: the rule is about something missing for the whole file. */
  oncePerFile?: boolean;
  check(node: Node, ctx: RuleContext): Iterable<RuleHit>;
}
