/** Rules switched off by a comment: all of them, or those named. */
export interface Ignored {
  all: boolean;
  rules: Set<string>;
}

export function ignores(ignored: Ignored, rule: string): boolean {
  return ignored.all || ignored.rules.has(rule);
}

export function nothingIgnored(): Ignored {
  return { all: false, rules: new Set() };
}

const DIRECTIVE = /--\s*baton-lint-ignore(-file)?\b([^\n]*)/g;

/**
 * Reads `-- baton-lint-ignore [rule, ...]` (the next statement) and `-- baton-lint-ignore-file
 * [rule, ...]` (the whole file) in the text between two statements. No rule names means every
 * rule; anything after a `:` is the reason, for readers. Only text between statements is read,
 * so a directive inside a string literal does nothing.
 */
export function readIgnoreComments(between: string): { statement: Ignored; file: Ignored } {
  const statement = nothingIgnored();
  const file = nothingIgnored();
  for (const match of between.matchAll(DIRECTIVE)) {
    const target = match[1] ? file : statement;
    const rules = (match[2] ?? "")
      .split(":")[0]!
      .split(/[\s,]+/)
      .filter(Boolean);
    if (rules.length === 0) target.all = true;
    for (const rule of rules) target.rules.add(rule);
  }
  return { statement, file };
}
