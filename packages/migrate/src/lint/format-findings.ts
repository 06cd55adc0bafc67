import type { LintFinding } from "./lint-finding.js";

/**
 * Findings as the CLI prints them, one `file:line:col: severity rule: message` line each (the form
 * editors and CI annotate from) with the fix indented below, then notes and a count.
 */
export function formatFindings(findings: readonly LintFinding[], notes: readonly string[] = []): string {
  const lines = findings.map(
    (f) =>
      `${f.file}:${f.line}:${f.column}: ${f.severity} ${f.rule}: ${f.where ? `${f.where}: ` : ""}${f.message}\n    fix: ${f.fix}`,
  );
  for (const note of notes) lines.push(`note: ${note}`);
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.length - errors;
  lines.push(
    findings.length === 0
      ? "no problems found"
      : `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
  );
  return `${lines.join("\n")}\n`;
}

/** The lint's exit code: 1 when any finding is an error, else 0 (warnings do not fail a build). */
export function lintExitCode(findings: readonly LintFinding[]): number {
  return findings.some((f) => f.severity === "error") ? 1 : 0;
}
