// The same JSON API the CLI uses; the session cookie authenticates, the CSRF header protects changes.

let csrfToken = null;
const unauthorizedListeners = new Set();

export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called when any request answers 401: the session ended (logout elsewhere, or a restart). */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export class ApiError extends Error {
  /** `field`: the request's field the server named as wrong (a 400), for a form to show beside it. */
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field ?? null;
  }
}

export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-baton-csrf"] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      "BATON_API_UNREACHABLE",
      "The control plane does not answer (it may be restarting).",
    );
  }
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(
      res.status,
      "BATON_API_BAD_ANSWER",
      `The control plane answered HTTP ${res.status} with something other than JSON.`,
    );
  }
  if (!res.ok) {
    if (res.status === 401 && path !== "/v1/session") for (const l of unauthorizedListeners) l();
    throw new ApiError(
      res.status,
      data?.error?.code,
      data?.error?.message ?? `HTTP ${res.status}`,
      data?.error?.field,
    );
  }
  return data;
}

/** Every action the dashboard takes is recorded in the audit log under this actor. */
export const ACTOR = "dashboard";
