import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A signed-in browser: what the server keeps of it (never the cookie's value itself). */
export interface DashboardSession {
  /** The per-session anti-CSRF token the page sends back in `x-baton-csrf`. */
  csrfToken: string;
  expiresAt: number;
}

export interface DashboardSessionOptions {
  /** How long a session lasts from its login (default 12 h: a working day, then log in again). */
  sessionMs?: number;
  /** How long a one-time login code can be redeemed (default 10 min). */
  codeMs?: number;
  /** Sessions kept at most; beyond, the one that would expire first goes (memory stays bounded). */
  maxSessions?: number;
  /** Unredeemed login codes kept at most; beyond, the oldest goes. */
  maxCodes?: number;
  now?: () => number;
}

const digest = (value: string) => createHash("sha256").update(value).digest("hex");
const secret = () => randomBytes(32).toString("base64url");

/**
 * The dashboard's sessions and one-time login codes, in memory. Only SHA-256 digests of cookie
 * values and codes are kept, so a heap dump or a log of this map lets nobody in. Everything here is
 * lost when the control plane restarts: the page then asks for a login again.
 */
export class DashboardSessions {
  private readonly sessions = new Map<string, DashboardSession>();
  private readonly codes = new Map<string, number>();
  private readonly sessionMs: number;
  private readonly codeMs: number;
  private readonly maxSessions: number;
  private readonly maxCodes: number;
  private readonly now: () => number;

  constructor(opts: DashboardSessionOptions = {}) {
    this.sessionMs = opts.sessionMs ?? 12 * 3600_000;
    this.codeMs = opts.codeMs ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 100;
    this.maxCodes = opts.maxCodes ?? 20;
    this.now = opts.now ?? Date.now;
  }

  /** A new session: the cookie's value (given to the browser once) and what the server keeps. */
  create(): { id: string; session: DashboardSession } {
    this.sweep();
    if (this.sessions.size >= this.maxSessions) {
      const [first] = [...this.sessions.entries()].sort((a, b) => a[1].expiresAt - b[1].expiresAt);
      if (first) this.sessions.delete(first[0]);
    }
    const id = secret();
    const session = { csrfToken: secret(), expiresAt: this.now() + this.sessionMs };
    this.sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session whose cookie value is `id`, if any. */
  get(id: string | undefined): DashboardSession | undefined {
    if (!id) return undefined;
    const key = digest(id);
    const found = this.sessions.get(key);
    if (found && found.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return found;
  }

  delete(id: string): void {
    this.sessions.delete(digest(id));
  }

  /** A one-time login code, good once within `codeMs`. */
  issueCode(): string {
    this.sweep();
    if (this.codes.size >= this.maxCodes) this.codes.delete(this.codes.keys().next().value!);
    const code = secret();
    this.codes.set(digest(code), this.now() + this.codeMs);
    return code;
  }

  /** Whether `code` is a live code; it is spent either way, so a replay never works. */
  redeemCode(code: string): boolean {
    const key = digest(code);
    const expiresAt = this.codes.get(key);
    this.codes.delete(key);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(key);
    for (const [key, at] of this.codes) if (at <= now) this.codes.delete(key);
  }
}

/** Constant-time equality of two header values (unequal lengths are simply unequal). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
