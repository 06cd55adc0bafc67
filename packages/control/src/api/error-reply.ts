import { ERRORS, type ErrorCode, isErrorCode } from "../errors.js";
import { RouterAdminError } from "../router-admin.js";

/** Every error the API answers with: the catalog's code and status, and a message for people. */
export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; field?: string };
}

export interface ErrorReply {
  status: number;
  body: ErrorEnvelope;
  /** Not one of Baton's own errors: what to log (the client gets BATON_INTERNAL only). */
  internal?: string;
}

/** The envelope for a code of the catalog, with the catalog's status. */
export function errorBody(code: ErrorCode, message: string, field?: string): ErrorReply {
  return {
    status: ERRORS[code].status,
    body: { error: { code, message, ...(field !== undefined ? { field } : {}) } },
  };
}

/** Fastify's own errors, as the catalog's codes. */
const FASTIFY: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BATON_BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "BATON_UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BATON_BAD_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BATON_BAD_REQUEST",
  FST_ERR_CTP_INVALID_JSON_BODY: "BATON_BAD_REQUEST",
  FST_ERR_BAD_URL: "BATON_BAD_REQUEST",
  FST_ERR_MAX_PARAM_LENGTH: "BATON_BAD_REQUEST",
};

/**
 * The answer to an error thrown while handling a request. Baton's codes keep their message;
 * anything else (a PostgreSQL or Node error, a bug) is BATON_INTERNAL with a message that names the
 * request, and what to log: neither its stack nor its text reaches the client.
 */
export function errorReply(err: unknown, opts: { requestId: string; maxBodyBytes: number }): ErrorReply {
  const e = (err ?? {}) as Error & { code?: unknown; field?: unknown; statusCode?: unknown };
  // The router answered (with an error) or did not: two conditions, two statuses.
  if (err instanceof RouterAdminError)
    return errorBody(err.unreachable ? "BATON_ROUTER_UNREACHABLE" : "BATON_ROUTER_REFUSED", err.message);
  if (isErrorCode(e.code) && !(ERRORS[e.code] as { local?: true }).local)
    return errorBody(e.code, e.message, typeof e.field === "string" ? e.field : undefined);
  const fastify = typeof e.code === "string" ? FASTIFY[e.code] : undefined;
  if (fastify === "BATON_BODY_TOO_LARGE")
    return errorBody(fastify, `the request body is over the limit of ${opts.maxBodyBytes} bytes`);
  if (fastify === "BATON_UNSUPPORTED_MEDIA_TYPE")
    return errorBody(fastify, "POST bodies must be sent as application/json");
  if (fastify) return errorBody(fastify, e.message, /^FST_ERR_CTP_/.test(String(e.code)) ? "body" : "path");
  // Any other client error Fastify raises (its statuses are 4xx only for what the client sent).
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500)
    return errorBody("BATON_BAD_REQUEST", e.message ?? "bad request");
  return {
    ...errorBody(
      "BATON_INTERNAL",
      `internal error (request ${opts.requestId}); the control plane's log has its details`,
    ),
    internal: `internal error${e.code !== undefined ? ` (${String(e.code)})` : ""}: ${e.stack ?? e.message ?? String(err)}`,
  };
}
