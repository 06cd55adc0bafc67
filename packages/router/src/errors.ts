/** Base class of every error the router raises on purpose: a stable `code` callers can switch on. */
export class BatonRouterError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One thing wrong with a configuration, located by its key path (and line, when it came from a file). */
export interface ConfigIssue {
  /** Dotted path of the bad key, e.g. `services[0].tracks.canary.weight`. */
  path: string;
  message: string;
  /** 1-based line and column in the source file, when known. */
  line?: number;
  column?: number;
}

/** A configuration (file or API body) was refused; nothing of it was applied. */
export class ConfigError extends BatonRouterError {
  readonly issues: ConfigIssue[];
  readonly source: string;
  constructor(source: string, issues: ConfigIssue[]) {
    super("BATON_CONFIG_INVALID", formatIssues(source, issues));
    this.issues = issues;
    this.source = source;
  }
}

function formatIssues(source: string, issues: ConfigIssue[]): string {
  const lines = issues.map((i) => {
    const where = i.line !== undefined ? `${source}:${i.line}:${i.column ?? 1}` : source;
    return `  ${where}: ${i.path || "(root)"}: ${i.message}`;
  });
  return `invalid configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}), nothing was applied:\n${lines.join("\n")}`;
}

/** An admin API call named a service that does not exist. */
export class UnknownServiceError extends BatonRouterError {
  constructor(name: string) {
    super("BATON_UNKNOWN_SERVICE", `no service named "${name}"`);
  }
}
