import { type Ignored, ignores, nothingIgnored, readIgnoreComments } from "./ignore-comments.js";
import type { LintFinding, LintReport } from "./lint-finding.js";
import type { RuleHit } from "./lint-rule.js";
import { LintState, type TransactionMode } from "./lint-state.js";
import { type ParsedStatement, parseSql } from "./pg-parser.js";
import { LINT_RULES } from "./rules/all-rules.js";
import { oneLine, SourceText } from "./source-text.js";
import { runSquawk, SQUAWK_EQUIVALENTS, type SquawkFinding } from "./squawk-pass.js";

/** The oldest PostgreSQL major version assumed when none is given (the oldest one still supported). */
export const DEFAULT_PG_VERSION = 13;

export interface LintOptions {
  /** The oldest PostgreSQL major version the SQL has to be safe on; default 13. */
  pgVersion?: number;
  /** How the statements reach PostgreSQL; default `per-statement` (see TransactionMode). */
  transaction?: TransactionMode;
  /** Whoever runs the SQL sets lock_timeout first (Baton's own runner does). */
  lockTimeoutSet?: boolean;
  /** Also run squawk and add its findings; `{ path }` names the binary. */
  squawk?: boolean | { path: string };
  /** The part of the file the SQL came from, when the file is not all SQL. */
  where?: string;
  /** The file line the SQL's first line is on (default 1), to report lines of the file. */
  firstLine?: number;
  /** Columns before the SQL on each line (a YAML block's indentation), added to every column. */
  indent?: number;
}

/** A finding still in positions relative to the SQL text, tied to its statement. */
interface Located {
  finding: LintFinding;
  statement: number;
}

/**
 * Lints SQL with PostgreSQL's own parser: statements that lock or rewrite tables, or break the
 * running version, each with the safe alternative. A syntax error is a finding, not an exception.
 */
export async function lintSql(sql: string, file: string, opts: LintOptions = {}): Promise<LintReport> {
  const source = new SourceText(sql);
  const pgVersion = opts.pgVersion ?? DEFAULT_PG_VERSION;
  const parsed = await parseSql(source);
  if (!parsed.ok) {
    const at = source.positionOfByte(parsed.at);
    const line = source.text.split("\n")[at.line - 1] ?? "";
    const finding: LintFinding = {
      rule: "syntax",
      severity: "error",
      file,
      ...(opts.where ? { where: opts.where } : {}),
      ...at,
      statement: oneLine(line),
      message: `PostgreSQL cannot parse this: ${parsed.message}`,
      fix: "correct the SQL; nothing else in this file is checked until it parses",
    };
    return { findings: [shift(finding, opts)], notes: [] };
  }

  const statements = parsed.statements;
  const { perStatement, file: fileIgnored } = ignoreComments(source, statements);
  const located = runRules(source, statements, perStatement, fileIgnored, file, pgVersion, opts);
  const notes: string[] = [];
  if (opts.squawk) {
    const outcome = await runSquawk({
      sql,
      file,
      pgVersion,
      inTransaction:
        opts.transaction === "wrapped" || (opts.transaction === "one-query" && statements.length > 1),
      ...(typeof opts.squawk === "object" ? { path: opts.squawk.path } : {}),
    });
    if (outcome.ok) {
      const ignored = (rule: string, i: number) =>
        ignores(fileIgnored, rule) || (i >= 0 && ignores(perStatement[i] ?? nothingIgnored(), rule));
      located.push(
        ...squawkFindings(outcome.findings, located, source, statements, {
          file,
          where: opts.where,
          ignored,
        }),
      );
    } else notes.push(`${outcome.note}; only Baton's rules ran`);
  }
  const findings = located
    .map((l) => l.finding)
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .map((f) => shift(f, opts));
  return { findings, notes };
}

/**
 * Lints the SQL of a migration file's `sql` operation. Baton sends it as one query after setting
 * lock_timeout, so several statements share one transaction and no lock_timeout is needed.
 * `where` names the operation, e.g. "operation 2 (sql.up)"; lines are the snippet's own unless
 * `firstLine` says where it starts in the file.
 */
export function lintSqlSnippet(
  sql: string,
  file: string,
  where: string,
  opts: LintOptions = {},
): Promise<LintReport> {
  return lintSql(sql, file, { transaction: "one-query", lockTimeoutSet: true, ...opts, where });
}

function runRules(
  source: SourceText,
  statements: ParsedStatement[],
  perStatement: Ignored[],
  fileIgnored: Ignored,
  file: string,
  pgVersion: number,
  opts: LintOptions,
): Located[] {
  const state = new LintState(
    opts.transaction ?? "per-statement",
    statements.length,
    opts.lockTimeoutSet ?? false,
  );
  const reported = new Set<string>();
  const located: Located[] = [];
  statements.forEach((statement, index) => {
    const text = statementText(source, statement);
    const start = source.positionOfByte(statement.start);
    for (const rule of LINT_RULES) {
      if (ignores(fileIgnored, rule.id) || ignores(perStatement[index]!, rule.id)) continue;
      if (rule.oncePerFile && reported.has(rule.id)) continue;
      for (const hit of rule.check(statement.node, { state, pgVersion, text })) {
        reported.add(rule.id);
        located.push({
          statement: index,
          finding: toFinding(rule.id, hit, source, statement, file, opts.where),
        });
      }
    }
    state.observe(statement.node, start.line);
  });
  return located;
}

function toFinding(
  rule: string,
  hit: RuleHit,
  source: SourceText,
  statement: ParsedStatement,
  file: string,
  where: string | undefined,
): LintFinding {
  // A node's own location when the rule gives one inside the statement, else the statement's start.
  const at =
    hit.at !== undefined && hit.at >= statement.start && hit.at < statement.end ? hit.at : statement.start;
  return {
    rule,
    severity: hit.severity,
    file,
    ...(where ? { where } : {}),
    ...source.positionOfByte(at),
    statement: oneLine(statementText(source, statement)),
    message: hit.message,
    fix: hit.fix,
  };
}

/** Ignore comments before each statement, and those for the whole file (anywhere between statements). */
function ignoreComments(
  source: SourceText,
  statements: ParsedStatement[],
): { perStatement: Ignored[]; file: Ignored } {
  const file = nothingIgnored();
  let previousEnd = 0;
  const perStatement = statements.map((s) => {
    const found = readIgnoreComments(source.sliceBytes(previousEnd, s.start));
    previousEnd = s.end;
    mergeInto(file, found.file);
    return found.statement;
  });
  mergeInto(file, readIgnoreComments(source.sliceBytes(previousEnd)).file);
  return { perStatement, file };
}

function mergeInto(target: Ignored, more: Ignored): void {
  target.all ||= more.all;
  for (const rule of more.rules) target.rules.add(rule);
}

/**
 * squawk's findings that add something: its syntax errors are dropped (PostgreSQL's own parser
 * has accepted the text) and so are findings of a rule ours already reported on the same statement.
 */
function squawkFindings(
  theirs: SquawkFinding[],
  ours: Located[],
  source: SourceText,
  statements: ParsedStatement[],
  ctx: { file: string; where: string | undefined; ignored: (rule: string, statement: number) => boolean },
): Located[] {
  const spans = statements.map((s) => [
    source.positionOfByte(s.start).line,
    source.positionOfByte(s.end).line,
  ]);
  const statementOnLine = (line: number) => spans.findIndex(([from, to]) => line >= from! && line <= to!);
  const have = new Set(ours.map((l) => `${l.statement}/${l.finding.rule}`));
  const fileWide = new Set(ours.map((l) => l.finding.rule));
  return theirs.flatMap((f) => {
    const statement = statementOnLine(f.line);
    const rule = `squawk/${f.rule}`;
    if (f.rule === "syntax-error" || ctx.ignored(rule, statement)) return [];
    const covered = (SQUAWK_EQUIVALENTS[f.rule] ?? []).some(
      // Ours reports a missing lock_timeout once per file; squawk on every statement.
      (ours) => have.has(`${statement}/${ours}`) || (ours === "lock-timeout-missing" && fileWide.has(ours)),
    );
    if (covered) return [];
    const finding: LintFinding = {
      rule,
      severity: f.severity,
      file: ctx.file,
      ...(ctx.where ? { where: ctx.where } : {}),
      line: f.line,
      column: f.column,
      statement: oneLine(statementText(source, statements[statement])),
      message: f.message,
      fix: f.help ?? `see https://squawkhq.com/docs/${f.rule}`,
    };
    return [{ statement, finding }];
  });
}

function statementText(source: SourceText, statement: ParsedStatement | undefined): string {
  return statement ? source.sliceBytes(statement.start, statement.end) : "";
}

/** From positions in the SQL to positions in the file it came from. */
function shift(finding: LintFinding, opts: LintOptions): LintFinding {
  return {
    ...finding,
    line: finding.line + (opts.firstLine ?? 1) - 1,
    column: finding.column + (opts.indent ?? 0),
  };
}
