import type { IncomingMessage } from "node:http";
import { connectionTokens, isRequestHopHeader } from "./hop-headers.js";
import type { TrustedProxies } from "./trusted-proxies.js";

/** What one pass over a request's raw headers yields: the forwarded headers and the routing inputs. */
export interface RequestHead {
  /** Headers to send upstream, flat [name, value, ...], hop-by-hop removed, X-Forwarded-* set. */
  forward: string[];
  host: string | undefined;
  trackOverride: string | undefined;
  /** The `x-baton-track-token` header, which never goes upstream. */
  trackToken: string | undefined;
  /** Value of the service's sticky header, when present. */
  stickyHeader: string | undefined;
  /** The Cookie header(s), searched for a sticky cookie only when no sticky header is present. */
  cookie: string | undefined;
  /** The client: the peer, or behind a trusted proxy the right-most untrusted X-Forwarded-For hop. */
  clientAddress: string;
  /** A trusted proxy says the client connected with https (the assigned cookie is then `Secure`). */
  secure: boolean;
  /** Content-Length of the request, or -1 when absent. */
  contentLength: number;
  /** The request body is chunked (its length is unknown until it ends). */
  chunked: boolean;
}

export const TRACK_OVERRIDE_HEADER = "x-baton-track";
export const TRACK_TOKEN_HEADER = "x-baton-track-token";

/**
 * Reads `req.rawHeaders` once. Avoids `req.headers` (which builds an object per request) because
 * this runs for every request and the forwarded list has to be built anyway.
 */
export function readRequestHead(
  req: IncomingMessage,
  stickyHeaderName: string | undefined,
  trust: TrustedProxies,
): RequestHead {
  const raw = req.rawHeaders;
  const forward: string[] = [];
  let host: string | undefined;
  let trackOverride: string | undefined;
  let trackToken: string | undefined;
  let stickyHeader: string | undefined;
  let cookie: string | undefined;
  let xff: string | undefined;
  let xfp: string | undefined;
  let connection: string | undefined;
  let contentLength = -1;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    switch (lower) {
      case "host":
        host = value;
        break;
      case "content-length":
        // llhttp already refused malformed or conflicting lengths; the connection re-sends it.
        contentLength = Number(value);
        continue;
      case "transfer-encoding":
        chunked = true;
        continue;
      case "cookie":
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        break;
      case "x-forwarded-for":
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      case "x-forwarded-proto":
        xfp = xfp === undefined ? value : `${xfp}, ${value}`;
        continue;
      case "connection":
        connection = value;
        continue;
      case TRACK_OVERRIDE_HEADER:
        trackOverride = value.trim();
        break;
      case TRACK_TOKEN_HEADER:
        trackToken = value.trim();
        continue;
      default:
        if (isRequestHopHeader(lower)) continue;
    }
    if (lower === stickyHeaderName) stickyHeader = value;
    forward.push(name, value);
  }
  const peer = req.socket.remoteAddress ?? "";
  let clientAddress = peer;
  let forwardedFor = peer;
  let proto = "http";
  // An untrusted peer's X-Forwarded-* are dropped, not extended: it could have written anything.
  if ((xff !== undefined || xfp !== undefined) && trust.trusts(peer)) {
    if (xff !== undefined) {
      forwardedFor = `${xff}, ${peer}`;
      clientAddress = trust.clientAddress(xff, peer);
    }
    if (xfp !== undefined) proto = xfp;
  }
  forward.push("x-forwarded-for", forwardedFor, "x-forwarded-proto", proto);
  const extra = connectionTokens(connection);
  return {
    forward: extra ? dropNamed(forward, extra) : forward,
    host,
    trackOverride,
    trackToken,
    stickyHeader,
    cookie,
    clientAddress,
    // The last entry is the one the trusted proxy itself wrote; earlier ones came from its client.
    secure: proto !== "http" && /(^|,)\s*https\s*$/i.test(proto),
    contentLength,
    chunked,
  };
}

function dropNamed(headers: string[], names: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

/** The Host header alone, for picking the service before the full pass. */
export function hostOf(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") return raw[i + 1];
  }
  return undefined;
}

/**
 * What makes a request's head unacceptable before routing, or undefined. RFC 9112 3.2: a request
 * with more than one Host header line is answered 400 (two hosts could route it one way here
 * and be read another way by the instance).
 */
export function requestHeadProblem(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host" && ++hosts > 1) {
      return "more than one Host header (RFC 9112 3.2): send exactly one";
    }
  }
  return undefined;
}
