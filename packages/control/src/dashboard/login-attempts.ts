/** Failed sign-ins one address may make per window before it must wait. */
export const MAX_FAILED_LOGINS = 20;
const WINDOW_MS = 60_000;
/** Addresses remembered at most: a flood from many addresses cannot grow memory without end. */
const MAX_ADDRESSES = 10_000;

/**
 * Failed dashboard sign-ins per client address, in fixed one-minute windows. The secrets are long
 * and random (guessing one is not practical), but a flood of guesses still costs hashing and
 * fills no log: past the limit an address waits for its window to end. A success does not reset
 * the count (the limit is on failures only, a user mistyping a few times is never stopped).
 */
export class LoginAttempts {
  private readonly failures = new Map<string, { count: number; until: number }>();

  /** Seconds the address must wait, or 0 when it may try. */
  waitFor(address: string, now = Date.now()): number {
    const f = this.failures.get(address);
    if (!f || f.until <= now) return 0;
    return f.count >= MAX_FAILED_LOGINS ? Math.ceil((f.until - now) / 1000) : 0;
  }

  failed(address: string, now = Date.now()): void {
    const f = this.failures.get(address);
    if (f && f.until > now) {
      f.count += 1;
      return;
    }
    if (this.failures.size >= MAX_ADDRESSES)
      for (const [a, old] of this.failures)
        if (old.until <= now || this.failures.size >= MAX_ADDRESSES) this.failures.delete(a);
    this.failures.set(address, { count: 1, until: now + WINDOW_MS });
  }
}
