import type { IncomingMessage } from "node:http";

/** Why a WebSocket upgrade is refused before any instance is dialled. */
export interface UpgradeRefusal {
  status: number;
  reason: string;
}

/** A checked upgrade: what the upstream handshake is built from. */
export interface UpgradeRequest {
  /** The request target, forwarded byte for byte (origin-form: a path and an optional query). */
  target: string;
  /** Offered sub-protocols, in the client's order. */
  protocols: string[];
}

/** origin-form (RFC 9112 3.2.1): absolute-path [ "?" query ], RFC 3986 characters, %XX escapes. */
const ORIGIN_FORM =
  /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?$/;
/** RFC 9110 5.6.2 token, which is what a sub-protocol name is (RFC 6455 4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * Checks everything the upstream handshake (and the `ws` server that answers the client) would
 * refuse or throw on, so that a bad request gets a clear 4xx instead of an exception, and no
 * upstream WebSocket is opened for a client that would then be turned away.
 */
export function checkUpgrade(req: IncomingMessage): UpgradeRequest | UpgradeRefusal {
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
    return { status: 400, reason: "only WebSocket upgrades are proxied (Upgrade: websocket)" };
  }
  if (req.method !== "GET") {
    return { status: 405, reason: `a WebSocket upgrade must be a GET, not ${req.method}` };
  }
  const target = req.url ?? "";
  const badTarget = targetProblem(target);
  if (badTarget) return { status: 400, reason: badTarget };
  const key = req.headers["sec-websocket-key"];
  if (!key || !KEY.test(key) || req.headers["sec-websocket-version"] !== "13") {
    return {
      status: 400,
      reason: "invalid WebSocket handshake (Sec-WebSocket-Key / Sec-WebSocket-Version 13)",
    };
  }
  const header = req.headers["sec-websocket-protocol"];
  if (header === undefined) return { target, protocols: [] };
  const protocols = parseProtocols(header);
  if (typeof protocols === "string") return { status: 400, reason: protocols };
  return { target, protocols };
}

export function isRefusal(v: UpgradeRequest | UpgradeRefusal): v is UpgradeRefusal {
  return (v as UpgradeRefusal).status !== undefined;
}

/** Why `target` is not an origin-form request target, or undefined when it is one. */
export function targetProblem(target: string): string | undefined {
  if (ORIGIN_FORM.test(target)) return undefined;
  const shown = JSON.stringify(target.length > 200 ? `${target.slice(0, 200)}...` : target);
  if (target === "*") return 'request target "*" is only for OPTIONS; a WebSocket upgrade needs a path';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(target)) {
    return `absolute-form request target ${shown} is not accepted: send the path alone (e.g. "/chat")`;
  }
  if (target.includes("#")) return `request target ${shown} has a fragment ("#"), which HTTP never sends`;
  return `request target ${shown} is not a path with an optional query (RFC 3986 characters, %XX escapes)`;
}

/**
 * `Sec-WebSocket-Protocol`: comma-separated tokens, each at most once (the rules of the `ws`
 * server, which would otherwise refuse the client after the upstream accepted). A string is the
 * reason the header was refused.
 */
export function parseProtocols(header: string): string[] | string {
  const shown = JSON.stringify(header.length > 200 ? `${header.slice(0, 200)}...` : header);
  const names = header.split(",").map((p) => p.replace(/^[ \t]+|[ \t]+$/g, ""));
  const seen = new Set<string>();
  for (const name of names) {
    if (!TOKEN.test(name)) {
      return `invalid Sec-WebSocket-Protocol ${shown}: ${name ? `"${name}" is not a token (no spaces, "/" or other separators)` : "empty name"}`;
    }
    if (seen.has(name)) return `invalid Sec-WebSocket-Protocol ${shown}: "${name}" is offered twice`;
    seen.add(name);
  }
  return names;
}
