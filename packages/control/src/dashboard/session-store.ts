import { randomBytes } from "node:crypto";

/** What is kept of one session, under the SHA-256 digest of its cookie's value. */
export interface StoredSession {
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
}

/**
 * Where the dashboard's sessions are kept. `PgSessionStore` keeps them in the control plane's
 * database, so that they outlive a restart; `MemorySessionStore` where there is none to keep them in.
 */
export interface SessionStore {
  /** The server's key for the sessions' CSRF tokens; stable for as long as the sessions are. */
  key(): Promise<Buffer>;
  /**
   * Adds a session; then removes those expired at its creation and, beyond `max`, the oldest.
   * Answers the digests removed (to forget them wherever they are cached).
   */
  add(digest: string, session: StoredSession, max: number): Promise<string[]>;
  /** The session of `digest` if it is live at `now`, its last use set to `now`. */
  touch(digest: string, now: number): Promise<StoredSession | undefined>;
  remove(digest: string): Promise<void>;
  count(): Promise<number>;
}

/** Sessions in this process only: lost when it ends (the page then asks for a login again). */
export class MemorySessionStore implements SessionStore {
  private readonly rows = new Map<string, StoredSession>();
  private readonly secret = randomBytes(32);

  async key(): Promise<Buffer> {
    return this.secret;
  }

  async add(digest: string, session: StoredSession, max: number): Promise<string[]> {
    const gone: string[] = [];
    for (const [d, s] of this.rows) if (s.expiresAt <= session.createdAt) gone.push(d);
    this.rows.set(digest, { ...session });
    // A Map iterates in insertion order: the first rows are the oldest.
    const over = this.rows.size - gone.length - max;
    gone.push(...[...this.rows.keys()].filter((d) => !gone.includes(d)).slice(0, Math.max(0, over)));
    for (const d of gone) this.rows.delete(d);
    return gone;
  }

  async touch(digest: string, now: number): Promise<StoredSession | undefined> {
    const found = this.rows.get(digest);
    if (!found || found.expiresAt <= now) return undefined;
    found.lastUsedAt = now;
    return { ...found };
  }

  async remove(digest: string): Promise<void> {
    this.rows.delete(digest);
  }

  async count(): Promise<number> {
    return this.rows.size;
  }
}
