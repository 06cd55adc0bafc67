/** Errors of the control plane, each with a stable `code`. */
export class BatonControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A second release of a service was asked for while one is in flight. */
export class ReleaseInProgressError extends BatonControlError {
  constructor(service: string, detail: string) {
    super(
      "BATON_RELEASE_IN_PROGRESS",
      `a release of ${service} is already in progress (${detail}); wait for it, or abort it first`,
    );
  }
}

/** The state database cannot be reached; nothing was changed. */
export class DatabaseUnavailableError extends BatonControlError {
  constructor(where: string, cause: Error) {
    super(
      "BATON_DATABASE_UNAVAILABLE",
      `cannot reach the state database at ${where}: ${cause.message}; nothing was changed`,
      { cause },
    );
  }
}
