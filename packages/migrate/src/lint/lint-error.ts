/** What stops the lint from running at all (as opposed to findings in the SQL), with a stable `code`. */
export class LintError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "LintError";
  }
}

/** A path given to the lint does not exist or cannot be read. */
export class LintFileUnreadableError extends LintError {
  constructor(path: string, cause: Error) {
    super("BATON_LINT_FILE_UNREADABLE", `cannot read ${path}: ${cause.message}`, { cause });
  }
}

/** A file the lint has no way to find SQL in (only `.sql`, unless an extractor is given). */
export class LintUnsupportedFileError extends LintError {
  constructor(path: string) {
    super(
      "BATON_LINT_UNSUPPORTED_FILE",
      `${path}: only .sql files (and directories of them) can be linted here; migration files need an extractor for their sql operations`,
    );
  }
}
