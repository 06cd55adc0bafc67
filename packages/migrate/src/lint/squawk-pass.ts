import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { LintSeverity } from "./lint-finding.js";

/** A finding as squawk reports it, with 1-based line and column. */
export interface SquawkFinding {
  rule: string;
  severity: LintSeverity;
  line: number;
  column: number;
  message: string;
  help: string | undefined;
}

export type SquawkOutcome = { ok: true; findings: SquawkFinding[] } | { ok: false; note: string };

export interface SquawkRun {
  sql: string;
  /** Name squawk reports (and matches its config's excluded paths against). */
  file: string;
  pgVersion: number;
  inTransaction: boolean;
  /** The squawk binary; by default the one the squawk-cli package installed for this platform. */
  path?: string;
}

/**
 * Our rule each squawk rule overlaps with: where both fire on one statement, ours is kept (it
 * names the fix in Baton's terms). squawk's other rules are added as `squawk/<rule>`.
 */
export const SQUAWK_EQUIVALENTS: Readonly<Record<string, readonly string[]>> = {
  "require-concurrent-index-creation": ["create-index-non-concurrently"],
  "require-concurrent-index-deletion": ["drop-index-non-concurrently"],
  "adding-field-with-default": ["add-column-rewrites-table"],
  "adding-required-field": ["add-column-not-null-without-default"],
  "changing-column-type": ["alter-column-type"],
  "adding-not-nullable-field": ["set-not-null"],
  // squawk also says this of UNIQUE and of a VALIDATE in the same transaction.
  "constraint-missing-not-valid": [
    "constraint-without-not-valid",
    "add-constraint-builds-index",
    "validate-in-same-transaction",
  ],
  "adding-foreign-key-constraint": ["constraint-without-not-valid"],
  "disallowed-unique-constraint": ["add-constraint-builds-index"],
  "adding-serial-primary-key-field": ["add-constraint-builds-index"],
  "renaming-column": ["rename-column"],
  "renaming-table": ["rename-table"],
  "ban-drop-column": ["drop-column"],
  "ban-drop-table": ["drop-table"],
  "ban-truncate-cascade": ["truncate"],
  "ban-concurrent-index-creation-in-transaction": ["concurrently-in-transaction"],
  "require-lock-timeout": ["lock-timeout-missing"],
};

const TIMEOUT_MS = 30_000;

/** Runs squawk on the SQL (through stdin); an unavailable or failing squawk is a note, not an error. */
export async function runSquawk(run: SquawkRun): Promise<SquawkOutcome> {
  let binary: string;
  try {
    binary = run.path ?? platformBinary();
  } catch (err) {
    return { ok: false, note: `squawk is not available here (${(err as Error).message.split("\n")[0]})` };
  }
  const args = [
    "--reporter=json",
    `--stdin-filepath=${run.file}`,
    `--pg-version=${run.pgVersion}.0`,
    ...(run.inTransaction ? ["--assume-in-transaction"] : []),
  ];
  const result = await spawnWithInput(binary, args, run.sql);
  if ("error" in result) return { ok: false, note: `squawk could not run (${result.error})` };
  // squawk exits 1 when it has findings; anything it prints as JSON is a result either way.
  try {
    const raw = JSON.parse(result.stdout) as RawSquawkFinding[];
    return { ok: true, findings: raw.map(fromRaw) };
  } catch {
    const why = result.stderr.trim().split("\n")[0] || `exit code ${result.code}`;
    return { ok: false, note: `squawk failed (${why})` };
  }
}

/** squawk-cli resolves its per-platform binary package itself; it throws on unsupported platforms. */
function platformBinary(): string {
  const require = createRequire(import.meta.url);
  const cli = require("squawk-cli/js/index.js") as { getBinaryPath(): string };
  return cli.getBinaryPath();
}

interface RawSquawkFinding {
  line: number;
  column: number;
  level: string;
  message: string;
  help: string | null;
  rule_name: string;
}

function fromRaw(raw: RawSquawkFinding): SquawkFinding {
  return {
    rule: raw.rule_name,
    severity: raw.level.toLowerCase() === "error" ? "error" : "warning",
    // squawk counts lines and columns from 0.
    line: raw.line + 1,
    column: raw.column + 1,
    message: raw.message,
    help: raw.help ?? undefined,
  };
}

function spawnWithInput(
  binary: string,
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string } | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ error: `no answer within ${TIMEOUT_MS / 1000}s` });
    }, TIMEOUT_MS);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ error: e.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    // A binary that exits before reading its input must not crash us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
