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

/**
 * Headers a client's `Connection` header may not declare hop-by-hop: the router sets them itself
 * (X-Forwarded-*) or the instance needs them (Host), and the framing ones are the router's own.
 * Without this, `Connection: close, host, x-forwarded-for` made the router delete what it had added.
 */
const NOT_HOP_BY_HOP = new Set([
  "host",
  "x-forwarded-for",
  "x-forwarded-proto",
  "content-length",
  "transfer-encoding",
]);

/**
 * Names that, with `_` read as `-`, alias a header the router strips, sets or frames with. CGI-style
 * stacks (WSGI, Rack, PHP) map `Transfer_Encoding` and `Transfer-Encoding` to the same variable, so
 * forwarding the underscore form would smuggle past the router exactly what it removed (nginx
 * drops every header with an underscore by default; only the dangerous ones are dropped here).
 */
const REQUEST_ALIASED = new Set([
  ...REQUEST_SKIP,
  "host",
  "content-length",
  "x-baton-track",
  "x-baton-track-token",
]);
const RESPONSE_ALIASED = new Set([...RESPONSE_SKIP, "content-length"]);

function aliases(lowerName: string, names: Set<string>): boolean {
  return lowerName.includes("_") && names.has(lowerName.replaceAll("_", "-"));
}

export function isRequestHopHeader(lowerName: string): boolean {
  return REQUEST_SKIP.has(lowerName) || aliases(lowerName, REQUEST_ALIASED);
}

export function isResponseHopHeader(lowerName: string): boolean {
  return RESPONSE_SKIP.has(lowerName) || aliases(lowerName, RESPONSE_ALIASED);
}

/**
 * Extra header names a `Connection` header declares hop-by-hop ("Connection: close, X-Foo").
 * Returns undefined in the common case where it lists only keep-alive/close/upgrade. Never names
 * the headers in NOT_HOP_BY_HOP, whatever the header says.
 */
export function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  let out: Set<string> | undefined;
  for (const raw of value.split(",")) {
    const t = raw.trim().toLowerCase();
    if (t === "" || t === "keep-alive" || t === "close" || t === "upgrade" || NOT_HOP_BY_HOP.has(t)) continue;
    (out ??= new Set()).add(t);
  }
  return out;
}

/** Removes the named headers from a flat [name, value, ...] list. */
export function stripNamed(names: Set<string>, out: string[]): void {
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (names.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
}

/** Value of cookie `name` in a Cookie header, without allocating for the other cookies. */
export function cookieValue(header: string, name: string): string | undefined {
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    // The name starts a cookie: only whitespace between it and the previous ";" (or the start).
    // "x=1 baton_sticky=..." is one cookie x whose value has a space, not two cookies.
    let k = at - 1;
    while (k >= 0 && (header[k] === " " || header[k] === "\t")) k--;
    const eq = at + name.length;
    if ((k < 0 || header[k] === ";") && header[eq] === "=") {
      const end = header.indexOf(";", eq);
      const v = header.slice(eq + 1, end < 0 ? undefined : end).trim();
      return v === "" ? undefined : v;
    }
    from = at + 1;
  }
  return undefined;
}

/**
 * Whether a request's Transfer-Encoding headers name exactly one coding, `chunked`. llhttp accepts
 * "gzip, chunked" as chunked, and the router re-frames bodies itself, so forwarding it would hand
 * the instance gzip bytes as if they were the body; RFC 9112 6.1 says to answer 501 instead.
 */
export function onlyChunkedCoding(rawHeaders: string[]): boolean {
  let codings = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 17 || name.toLowerCase() !== "transfer-encoding") continue;
    for (const t of rawHeaders[i + 1]!.split(",")) {
      const coding = t.trim().toLowerCase();
      if (coding === "") continue;
      if (coding !== "chunked") return false;
      codings++;
    }
  }
  return codings === 1;
}

/**
 * The Transfer-Encoding to send the client for a response whose codings were `codings`: the body
 * reaches the router de-chunked (when `chunked` came last) and Node frames it chunked again, so
 * only the other codings (gzip, ...) need naming, or the client would take them for the body.
 */
export function responseCodings(codings: string): string | undefined {
  const list = codings
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
  if (list.length > 0 && list[list.length - 1]!.toLowerCase() === "chunked") list.pop();
  return list.length > 0 ? `${list.join(", ")}, chunked` : undefined;
}
