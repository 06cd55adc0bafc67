/**
 * Headers that describe one connection, not the message, and so are never forwarded
 * (RFC 9110 7.6.1). `expect` is answered by the router itself; `x-forwarded-*` are rewritten.
 */
const REQUEST_SKIP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "http2-settings",
  "proxy-authorization",
  "expect",
  "x-forwarded-for",
  "x-forwarded-proto",
]);

const RESPONSE_SKIP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-authenticate",
  "x-baton-version",
]);

export function isRequestHopHeader(lowerName: string): boolean {
  return REQUEST_SKIP.has(lowerName);
}

export function isResponseHopHeader(lowerName: string): boolean {
  return RESPONSE_SKIP.has(lowerName);
}

/**
 * Extra header names a `Connection` header declares hop-by-hop ("Connection: close, X-Foo").
 * Returns undefined in the common case where it lists only keep-alive/close/upgrade.
 */
export function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let out: Set<string> | undefined;
  for (const raw of value.split(",")) {
    const t = raw.trim().toLowerCase();
    if (t === "" || t === "keep-alive" || t === "close" || t === "upgrade") continue;
    (out ??= new Set()).add(t);
  }
  return out;
}

/** Value of cookie `name` in a Cookie header, without allocating for the other cookies. */
export function cookieValue(header: string, name: string): string | undefined {
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    const before = at === 0 ? ";" : header[at - 1];
    const eq = at + name.length;
    if ((before === ";" || before === " ") && header[eq] === "=") {
      const end = header.indexOf(";", eq);
      const v = header.slice(eq + 1, end < 0 ? undefined : end).trim();
      return v === "" ? undefined : v;
    }
    from = at + 1;
  }
  return undefined;
}
