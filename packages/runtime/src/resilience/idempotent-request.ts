// Which requests are safe to send twice. A retry that repeats a non-idempotent call (a POST that
// charged a card) is worse than the failure it hides, so the rules are conservative.

/** Methods RFC 9110 §9.2.2 defines as idempotent. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/**
 * Whether repeating the request is safe: an idempotent method, or an `Idempotency-Key` header
 * (the server deduplicates), unless the caller says otherwise.
 */
export function isIdempotentRequest(method: string, headers: Headers, declared?: boolean): boolean {
  if (declared !== undefined) return declared;
  return IDEMPOTENT_METHODS.has(method.toUpperCase()) || headers.has("idempotency-key");
}

/**
 * Error codes that prove no byte of the request reached the server: the connection was never
 * made. A POST that failed this way can be sent again.
 */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * True when the error (fetch's `TypeError: fetch failed`, whose `cause` holds the socket error,
 * sometimes an AggregateError of one per address) says the connection was never established.
 */
export function neverSent(error: unknown, depth = 0): boolean {
  if (depth > 4 || typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && NOT_SENT_CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => neverSent(x, depth + 1))) {
    return true;
  }
  return neverSent(e.cause, depth + 1);
}

/** The most telling message in a fetch error's cause chain ("connect ECONNREFUSED 127.0.0.1:9"). */
export function rootMessage(error: unknown): string {
  let current: unknown = error;
  let message = String((error as Error)?.message ?? error);
  for (let i = 0; i < 5 && typeof current === "object" && current !== null; i++) {
    const e = current as { message?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof e.message === "string" && e.message !== "" && e.message !== "fetch failed")
      message = e.message;
    current = e.cause ?? e.errors?.[0];
  }
  return message;
}
