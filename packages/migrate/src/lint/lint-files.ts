import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { LintFileUnreadableError, LintUnsupportedFileError } from "./lint-error.js";
import type { LintReport } from "./lint-finding.js";
import { type LintOptions, lintSql, lintSqlSnippet } from "./lint-sql.js";

/** SQL found inside a file that is not all SQL, such as a migration file's `sql` operation. */
export interface SqlSnippet {
  sql: string;
  /** e.g. "operation 2 (sql.up)". */
  where: string;
  /** The file line the SQL starts on, so findings point into the file; else lines are the snippet's. */
  firstLine?: number;
  indent?: number;
}

export interface LintFilesOptions extends LintOptions {
  /**
   * Finds the SQL in files that are not `.sql` (migration files); those files are refused without
   * it. In directories, `.yaml`/`.yml` files are then linted too.
   */
  extractSql?: (file: string, text: string) => SqlSnippet[] | Promise<SqlSnippet[]>;
}

/** Lints `.sql` files, and directories of them (recursively, in name order), reporting on all together. */
export async function lintFiles(paths: readonly string[], opts: LintFilesOptions = {}): Promise<LintReport> {
  const report: LintReport = { findings: [], notes: [] };
  for (const file of await expand(paths, opts)) {
    let text: string;
    try {
      // Editors on Windows may start files with a byte-order mark, which PostgreSQL's parser rejects.
      text = (await readFile(file, "utf8")).replace(/^\uFEFF/, "");
    } catch (err) {
      throw new LintFileUnreadableError(file, err as Error);
    }
    const parts: LintReport[] = [];
    if (extname(file).toLowerCase() === ".sql") parts.push(await lintSql(text, file, opts));
    else if (opts.extractSql) {
      for (const snippet of await opts.extractSql(file, text)) {
        const { sql, where, ...at } = snippet;
        parts.push(await lintSqlSnippet(sql, file, where, { ...opts, ...at }));
      }
    } else throw new LintUnsupportedFileError(file);
    for (const part of parts) {
      report.findings.push(...part.findings);
      // The same note (squawk missing) would otherwise repeat for every file.
      for (const note of part.notes) if (!report.notes.includes(note)) report.notes.push(note);
    }
  }
  return report;
}

async function expand(paths: readonly string[], opts: LintFilesOptions): Promise<string[]> {
  const wanted = (name: string) =>
    /\.sql$/i.test(name) || (opts.extractSql !== undefined && /\.ya?ml$/i.test(name));
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (err) {
      throw new LintFileUnreadableError(path, err as Error);
    }
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    files.push(
      ...entries
        .filter((e) => e.isFile() && wanted(e.name))
        .map((e) => join(e.parentPath, e.name))
        .sort(),
    );
  }
  return files;
}
