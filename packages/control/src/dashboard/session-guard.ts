import type { FastifyRequest } from "fastify";
import { BatonControlError } from "../errors.js";
import { type DashboardSession, type DashboardSessions, sameSecret } from "./dashboard-sessions.js";

export const SESSION_COOKIE = "baton_session";
export const CSRF_HEADER = "x-baton-csrf";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The value of one cookie of the request, if sent. */
export function cookieValue(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The session of the request's cookie, if it is a live one. A request without the cookie costs no
 * lookup; one whose session cannot be looked up is refused (503), never let in.
 */
export async function sessionOf(
  request: FastifyRequest,
  sessions: DashboardSessions,
): Promise<{ id: string; session: DashboardSession } | undefined> {
  const id = cookieValue(request, SESSION_COOKIE);
  if (!id) return undefined;
  const session = await sessions.get(id);
  return session ? { id, session } : undefined;
}

/**
 * Refuses a browser request that another site may have caused: its `Origin` must be this API's
 * own and `Sec-Fetch-Site` (when the browser sends it) same-origin. Requests without `Origin`
 * (curl, the CLI) are let through only where `requireOrigin` is false (the login, which needs a
 * secret anyway).
 */
export function assertSameOrigin(request: FastifyRequest, requireOrigin: boolean): void {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    throw new BatonControlError(
      "BATON_FORBIDDEN",
      `refused: Sec-Fetch-Site is ${String(site)}; the dashboard's requests come from its own page (same-origin)`,
    );
  const origin = request.headers.origin;
  if (origin === undefined) {
    if (!requireOrigin) return;
    throw new BatonControlError(
      "BATON_FORBIDDEN",
      `refused: a cookie-authenticated ${request.method} needs an Origin header (browsers send it); scripts use the bearer token instead`,
    );
  }
  const own = `${request.protocol}://${request.headers.host ?? ""}`;
  if (origin !== own)
    throw new BatonControlError(
      "BATON_FORBIDDEN",
      `refused: Origin ${origin} is not this API's (${own}); the dashboard acts only from its own page`,
    );
}

/**
 * Admits a request by its session cookie (the bearer token is checked before, and alone when
 * sent). One that changes state also needs the same-origin check and the session's CSRF token in
 * `x-baton-csrf`: a cookie is sent by the browser whoever made the page, the header is not.
 */
export async function admitBySession(request: FastifyRequest, sessions: DashboardSessions): Promise<boolean> {
  if (request.headers.authorization !== undefined) return false;
  const found = await sessionOf(request, sessions);
  if (!found) return false;
  if (SAFE_METHODS.has(request.method)) return true;
  assertSameOrigin(request, true);
  const given = request.headers[CSRF_HEADER];
  if (typeof given !== "string" || given === "")
    throw new BatonControlError(
      "BATON_FORBIDDEN",
      `refused: a cookie-authenticated ${request.method} needs the header ${CSRF_HEADER} with the session's token (GET /v1/session gives it)`,
    );
  if (!sameSecret(given, found.session.csrfToken))
    throw new BatonControlError(
      "BATON_FORBIDDEN",
      `refused: the ${CSRF_HEADER} header is not this session's token (GET /v1/session gives it)`,
    );
  return true;
}
