import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { BatonControlError } from "../errors.js";
import type { SqlClient } from "../state/sql-client.js";
import { PgSessionStore } from "./pg-session-store.js";
import { MemorySessionStore, type SessionStore } from "./session-store.js";

/** A signed-in browser: what the server knows of it (never the cookie's value itself). */
export interface DashboardSession {
  /** The per-session anti-CSRF token the page sends back in `x-baton-csrf`. */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

export interface DashboardSessionOptions {
  /**
   * Where sessions are kept: the control plane's database (they then outlive its restart); without
   * it, in memory (lost at a restart: the page asks for a login again).
   */
  db?: SqlClient;
  /** How long a session lasts from its login (default 12 h: a working day, then log in again). */
  sessionMs?: number;
  /** How long a one-time login code can be redeemed (default 10 min). */
  codeMs?: number;
  /** Sessions kept at most; beyond, the oldest goes (the table stays small). */
  maxSessions?: number;
  /** Unredeemed login codes kept at most; beyond, the oldest goes. */
  maxCodes?: number;
  /**
   * How long a session, once found in the database, is taken as live without asking again
   * (default 10 s): the page's requests do not each cost a query. A logout or an eviction here is
   * seen at once; a row deleted by hand, within this long.
   */
  cacheMs?: number;
  /** How long a session's lookup may take before the request is refused with 503 (default 3 s). */
  timeoutMs?: number;
  now?: () => number;
}

const digest = (value: string) => createHash("sha256").update(value).digest("hex");
const secret = () => randomBytes(32).toString("base64url");

/**
 * The dashboard's sessions and one-time login codes. Sessions are kept by a `SessionStore` (the
 * control plane's PostgreSQL in `baton up`) under the SHA-256 digest of the cookie's value; the CSRF
 * token is derived (HMAC of the cookie's value with the store's key), never stored. A session the
 * store cannot be asked about is refused (503 BATON_DATABASE_UNAVAILABLE), never let in.
 *
 * Login codes stay in memory: each lives 10 minutes, and the `baton up` that printed a link is
 * the one that honours it. A restarted `baton up` prints a new link; the old one, still in a
 * terminal's scrollback or a log, then lets nobody in.
 */
export class DashboardSessions {
  private readonly store: SessionStore;
  private readonly codes = new Map<string, number>();
  /** Sessions recently found in the store, by digest, until `checkedUntil`. */
  private readonly cache = new Map<string, { session: DashboardSession; checkedUntil: number }>();
  private readonly sessionMs: number;
  private readonly codeMs: number;
  private readonly maxSessions: number;
  private readonly maxCodes: number;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: DashboardSessionOptions = {}) {
    this.store = opts.db ? new PgSessionStore(opts.db) : new MemorySessionStore();
    this.sessionMs = opts.sessionMs ?? 12 * 3600_000;
    this.codeMs = opts.codeMs ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 100;
    this.maxCodes = opts.maxCodes ?? 20;
    this.cacheMs = opts.cacheMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.now = opts.now ?? Date.now;
  }

  /** A new session: the cookie's value (given to the browser once) and what the server knows. */
  async create(): Promise<{ id: string; session: DashboardSession }> {
    const id = secret();
    const now = this.now();
    const row = { createdAt: now, expiresAt: now + this.sessionMs, lastUsedAt: now };
    const gone = await this.ask("record the new dashboard session", (s) =>
      s.add(digest(id), row, this.maxSessions),
    );
    for (const d of gone) this.cache.delete(d);
    return { id, session: { ...row, csrfToken: await this.csrfToken(id) } };
  }

  /** The live session whose cookie value is `id`, if any; 503 when the store cannot be asked. */
  async get(id: string | undefined): Promise<DashboardSession | undefined> {
    if (!id) return undefined;
    const key = digest(id);
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached && cached.checkedUntil > now && cached.session.expiresAt > now) return cached.session;
    this.cache.delete(key);
    const found = await this.ask("check the dashboard session", (s) => s.touch(key, now));
    if (!found) return undefined;
    const session = { ...found, csrfToken: await this.csrfToken(id) };
    // Bounded like the table: a burst of distinct cookies cannot grow it past the sessions there are.
    if (this.cache.size >= this.maxSessions) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { session, checkedUntil: now + this.cacheMs });
    return session;
  }

  async delete(id: string): Promise<void> {
    const key = digest(id);
    this.cache.delete(key);
    await this.ask("end the dashboard session", (s) => s.remove(key));
  }

  /** Sessions kept (expired ones included until the next login purges them). */
  count(): Promise<number> {
    return this.ask("count the dashboard sessions", (s) => s.count());
  }

  /** A one-time login code, good once within `codeMs`. */
  issueCode(): string {
    const now = this.now();
    for (const [key, at] of this.codes) if (at <= now) this.codes.delete(key);
    if (this.codes.size >= this.maxCodes) this.codes.delete(this.codes.keys().next().value!);
    const code = secret();
    this.codes.set(digest(code), now + this.codeMs);
    return code;
  }

  /** Whether `code` is a live code; it is spent either way, so a replay never works. */
  redeemCode(code: string): boolean {
    const key = digest(code);
    const expiresAt = this.codes.get(key);
    this.codes.delete(key);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  /** The session's CSRF token: only the holder of the cookie and the server can make it. */
  private async csrfToken(id: string): Promise<string> {
    const key = await this.ask("read the dashboard sessions' key", (s) => s.key());
    return createHmac("sha256", key).update(`csrf\n${id}`).digest("base64url");
  }

  /**
   * One question to the store, bounded in time: a database that is down or stalled refuses the
   * request (fail closed) with 503 rather than letting it in or holding it open.
   */
  private async ask<T>(what: string, fn: (store: SessionStore) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(this.store), timeout]);
    } catch (err) {
      const message = (err as Error).message;
      throw new BatonControlError(
        "BATON_DATABASE_UNAVAILABLE",
        `cannot ${what} in the state database, so the request is refused (not let in): ${message}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Constant-time equality of two header values (unequal lengths are simply unequal). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
