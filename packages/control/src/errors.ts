/**
 * Every error code Baton's control plane and CLI raise, with the one HTTP status the API answers it
 * with and what it means. `BatonControlError` takes only these codes: a new code is added here
 * first, or it does not compile. Codes marked `local` are raised where they happen (the CLI, or
 * the API refusing to start) and never answered over HTTP; their status is the one they would
 * have, kept so that every code has exactly one.
 */
export const ERRORS = {
  // The request itself.
  BATON_BAD_REQUEST: {
    status: 400,
    description: "The body, query or path is malformed or incomplete; `field` names what is wrong.",
  },
  BATON_UNAUTHORIZED: { status: 401, description: "The bearer token is missing or wrong." },
  BATON_FORBIDDEN: {
    status: 403,
    description:
      "A dashboard request that may come from another site: a cookie-authenticated change without a same-origin `Origin` or the session's `x-baton-csrf` token.",
  },
  BATON_NOT_FOUND: { status: 404, description: "No route has this path." },
  BATON_METHOD_NOT_ALLOWED: {
    status: 405,
    description: "The path exists but not with this method; `Allow` lists the methods it has.",
  },
  BATON_REQUEST_TIMEOUT: {
    status: 408,
    description: "The client took too long to send its request's headers or body.",
  },
  BATON_BODY_TOO_LARGE: {
    status: 413,
    description: "The request body is over the API's limit in bytes; it was not read to its end.",
  },
  BATON_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    description: "A POST body that is not `application/json` (no web page can send one unasked).",
  },
  BATON_TOO_MANY_STREAMS: {
    status: 429,
    description: "As many live event streams (GET /v1/events) are open as the API allows; close one first.",
  },
  BATON_TOO_MANY_LOGINS: {
    status: 429,
    description:
      "Too many failed dashboard sign-ins from this address in the last minute; `Retry-After` says when to try again.",
  },
  BATON_HEADERS_TOO_LARGE: { status: 431, description: "The request's headers are too large." },

  // What the request asks for.
  BATON_UNKNOWN_RELEASE: { status: 404, description: "No release has this id." },
  BATON_UNKNOWN_VERSION: {
    status: 404,
    description: "The version was never released, so there is no directory to release it from.",
  },
  BATON_RELEASE_IN_PROGRESS: {
    status: 409,
    description: "A release of the service is in flight; wait for it or abort it first.",
  },
  BATON_NO_RELEASE_RUNNING: { status: 409, description: "No release is in flight to promote or abort." },
  BATON_BAD_SERVICE_FILE: {
    status: 400,
    description: "baton.yaml, read again at a deploy or rollback, does not parse; the message names the key.",
  },
  BATON_SERVICE_FILE_CHANGED: {
    status: 409,
    description: "baton.yaml changed the service, its port or its provider; restart baton up to take it.",
  },
  BATON_NOTHING_TO_ROLL_BACK: {
    status: 409,
    description: "Nothing serves yet, or there is no earlier version to go back to.",
  },
  BATON_ILLEGAL_TRANSITION: {
    status: 409,
    description: "The release already moved on (ended, or rolling back); the change no longer applies.",
  },
  BATON_MIGRATION_NO_DATABASE: {
    status: 422,
    description: "baton.yaml names a migration but its database URL is set nowhere.",
  },
  BATON_MIGRATION_NOT_CONFIGURED: {
    status: 409,
    description: "baton.yaml has no `migration` section: the control plane knows of no migration to act on.",
  },
  BATON_NO_ACTIVE_MIGRATION: {
    status: 409,
    description: "No migration is in progress on the schema: there is nothing to complete or roll back.",
  },
  BATON_MIGRATION_RELEASE_IN_FLIGHT: {
    status: 409,
    description:
      "A release is in flight: the migration completes or rolls back with it (promote or abort the release instead); nothing was changed.",
  },
  BATON_MIGRATION_IN_PROGRESS: {
    status: 409,
    description:
      "Another migration is in progress on the schema: complete or roll it back before starting one; nothing was changed.",
  },
  BATON_MIGRATION_APPLIED: {
    status: 409,
    description: "A migration of this name was already completed on the schema; nothing was changed.",
  },
  BATON_MIGRATION_CONTRACTED: {
    status: 409,
    description:
      "The version was released against a schema that migrations completed since have changed (a column renamed or dropped): it cannot run on this database any more; nothing was started.",
  },
  BATON_MIGRATION_STARTING: {
    status: 409,
    description:
      "The migration has not finished starting (its backfill runs, or its process stopped part-way); nothing was changed.",
  },
  BATON_MIGRATION_STILL_NEEDED: {
    status: 409,
    description:
      "The previous version, kept warm for a one-switch rollback, still reads the old version schema; the migration completes when it retires. Nothing was changed.",
  },
  BATON_MIGRATION_SERVES: {
    status: 409,
    description:
      "The version serving traffic was released with this migration: rolling it back would break that version; roll back the release instead. Nothing was changed.",
  },
  BATON_MIGRATION_FAILED: {
    status: 500,
    description:
      "The migration engine failed part-way (the message names the operation); the migration stays in progress: run the same action again once the cause is fixed.",
  },
  BATON_MIGRATION_DATABASE_UNAVAILABLE: {
    status: 503,
    description:
      "The application's database, where the migration runs, cannot be reached; nothing was changed.",
  },
  BATON_INSTANCES_NOT_READY: {
    status: 422,
    description: "The version's instances did not become ready; they got no traffic.",
  },

  BATON_UNKNOWN_FLAG: { status: 404, description: "No feature flag has this name." },
  BATON_FLAG_CONFLICT: {
    status: 409,
    description:
      "The flag changed since the version the change was based on (If-Match or `version`); nothing was changed. Read it again and redo the change.",
  },
  BATON_FLAG_NO_ROLLOUT: {
    status: 422,
    description: "The flag has no flexibleRollout strategy whose percentage could be set.",
  },
  BATON_UNKNOWN_SEGMENT: { status: 404, description: "No flag segment has this id." },
  BATON_SEGMENT_IN_USE: {
    status: 409,
    description: "A flag's strategy uses the segment; take it out of those strategies first.",
  },
  BATON_FLAG_TOKEN_EXISTS: { status: 409, description: "A client token with this name already exists." },
  BATON_UNKNOWN_FLAG_TOKEN: { status: 404, description: "No client token has this name." },
  BATON_UNKNOWN_SCHEDULED_CHANGE: { status: 404, description: "No scheduled flag change has this id." },
  BATON_SCHEDULE_NOT_PENDING: {
    status: 409,
    description:
      "The scheduled flag change was already applied, failed or was cancelled; it can no longer be cancelled.",
  },
  BATON_FLAG_ROLLOUT_RUNNING: {
    status: 409,
    description: "A guarded rollout of this flag is already running or paused; abort it first.",
  },
  BATON_NO_FLAG_ROLLOUT: {
    status: 409,
    description: "No guarded rollout of this flag is running or paused.",
  },
  BATON_FLAG_NOT_ROLLABLE: {
    status: 409,
    description:
      "The flag cannot take a guarded rollout as it is (turned off, or no flexibleRollout strategy).",
  },

  // The control plane and what it depends on.
  BATON_INTERNAL: {
    status: 500,
    description: "An unexpected error; the control plane's log has its details under the request id.",
  },
  BATON_UNKNOWN_STRATEGY: { status: 500, description: "A stored release names a strategy with no runner." },
  BATON_ROUTER_REFUSED: {
    status: 502,
    description: "The router's admin API answered the control plane with an error.",
  },
  BATON_ROUTER_UNREACHABLE: {
    status: 503,
    description: "The router's admin API does not answer; nothing was switched.",
  },
  BATON_DATABASE_UNAVAILABLE: {
    status: 503,
    description: "The state database cannot be reached; nothing was changed.",
  },

  // Raised where they happen, never an HTTP answer.
  BATON_API_UNPROTECTED: {
    status: 500,
    local: true,
    description: "The API was asked to listen beyond loopback without a token, and did not start.",
  },
  BATON_NOT_UP: {
    status: 503,
    local: true,
    description: "CLI: no `baton up` found (no api.json in the data directory) and no --api given.",
  },
  BATON_API_UNREACHABLE: { status: 503, local: true, description: "CLI: the control plane does not answer." },
  BATON_API_BAD_ANSWER: {
    status: 502,
    local: true,
    description: "CLI: the control plane's answer is not JSON.",
  },
  BATON_PORT_IN_USE: {
    status: 409,
    local: true,
    description: "`baton up`: a port it needs is taken by another process.",
  },
} as const satisfies Record<`BATON_${string}`, ErrorSpec>;

interface ErrorSpec {
  status: number;
  description: string;
  /** Raised where it happens, never answered by the API. */
  local?: true;
}

export type ErrorCode = keyof typeof ERRORS;

/** The codes the API answers with: every code but the local ones. */
export const API_ERROR_CODES = (Object.keys(ERRORS) as ErrorCode[]).filter(
  (code) => !(ERRORS[code] as ErrorSpec).local,
);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERRORS, code);
}

export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/** Errors of the control plane, each with a stable `code` from `ERRORS`. */
export class BatonControlError extends Error {
  constructor(
    readonly code: ErrorCode,
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
  /** `timedOut`: the statement was sent but not answered, so it may still be applied later. */
  constructor(where: string, cause: Error, timedOut?: number) {
    super(
      "BATON_DATABASE_UNAVAILABLE",
      timedOut !== undefined
        ? `the state database at ${where} did not answer within ${timedOut} ms (stalled or overloaded); a change asked for now may still be applied when it answers again: check before retrying`
        : `cannot reach the state database at ${where}: ${cause.message}; nothing was changed`,
      { cause },
    );
  }
}
