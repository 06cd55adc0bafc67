import type { Stickiness } from "./config-schema.js";
import { cookieValue } from "./hop-headers.js";
import type { RequestHead } from "./request-head.js";

/** The cookie the router assigns a bucket key in when the service names no sticky cookie. */
export const ASSIGNED_STICKY_COOKIE = "baton_sticky";
/** Longest sticky cookie value taken as a key; anything longer is treated as absent (and reassigned). */
const MAX_COOKIE_KEY = 256;
const TOKEN_LENGTH = 16;

/** What puts a request in a bucket, and what, if anything, the response must tell the client. */
export interface StickyKey {
  /** Hashed (with the service's salt) into the bucket. */
  key: string;
  /**
   * The key names someone (a header, the service's cookie, an address), so the tracks' `allow`
   * lists apply. A key the router made up never matches an allow-list entry, whatever its text, so
   * a forged `baton_sticky` cookie picks at most a bucket, never an allow-listed track.
   */
  named: boolean;
  /** The Set-Cookie value when the router assigned the key and the client should keep it. */
  setCookie: string | undefined;
}

/** The key of a request that needs no bucket: nothing to hash, nothing to assign. */
const UNSPLIT: StickyKey = Object.freeze({ key: "", named: false, setCookie: undefined });

/**
 * The sticky key of a request: the service's header, else its cookie, else what `assign` says
 * (see the `stickiness` schema). The Cookie header is searched only when no header key is present.
 * While the service `splits` nothing (one weighted track), no key is made up and no cookie sent:
 * the first request after a canary starts gets one.
 */
export function stickyKeyOf(head: RequestHead, stickiness: Stickiness, splits: boolean): StickyKey {
  if (head.stickyHeader) return { key: head.stickyHeader, named: true, setCookie: undefined };
  const named = stickiness.cookie;
  const cookies = head.cookie;
  if (named !== undefined && cookies !== undefined) {
    const v = cookieValue(cookies, named);
    if (v !== undefined && isCookieKey(v)) return { key: v, named: true, setCookie: undefined };
  }
  switch (stickiness.assign) {
    case "address":
      return { key: head.clientAddress, named: true, setCookie: undefined };
    case "random":
      return splits ? { key: newBucketToken(), named: false, setCookie: undefined } : UNSPLIT;
  }
  if (!splits) return UNSPLIT;
  if (named === undefined && cookies !== undefined) {
    const v = cookieValue(cookies, ASSIGNED_STICKY_COOKIE);
    if (v !== undefined && isBucketToken(v)) return { key: v, named: false, setCookie: undefined };
  }
  const token = newBucketToken();
  const maxAge = Math.floor(stickiness.cookieMaxAge / 1000);
  return {
    key: token,
    named: false,
    setCookie:
      `${named ?? ASSIGNED_STICKY_COOKIE}=${token}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Lax` +
      (head.secure ? "; Secure" : ""),
  };
}

/**
 * A fresh bucket key: 16 base-36 characters. Math.random is enough: the key only has to spread
 * evenly over the buckets, it guards nothing (a client may choose its bucket, as a user id does).
 */
function newBucketToken(): string {
  const a = Math.floor(Math.random() * 2_821_109_907_456); // 36^8
  const b = Math.floor(Math.random() * 2_821_109_907_456);
  return a.toString(36).padStart(8, "0") + b.toString(36).padStart(8, "0");
}

/** Whether `v` has the shape of a key the router assigns (anything else is reassigned). */
export function isBucketToken(v: string): boolean {
  if (v.length !== TOKEN_LENGTH) return false;
  for (let i = 0; i < TOKEN_LENGTH; i++) {
    const c = v.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) return false;
  }
  return true;
}

/** An application's sticky cookie value: any visible ASCII, within a sane length. */
function isCookieKey(v: string): boolean {
  if (v.length > MAX_COOKIE_KEY) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
