import { formatLsnToken, parseLsnToken, toLsn } from "./lsn-token.js";
import type { Consistency } from "./replica-router.js";

// The insert position, not the write position: under synchronous_commit=off a commit returns
// before its WAL is written, and only the insert position is sure to be at or past it.
export const POSITION_SQL = "SELECT pg_current_wal_insert_lsn()::text AS lsn";

/**
 * A session's last write position on the primary, whatever the driver: what its reads must find
 * replayed, and its token. A write whose position could not be read sends the session's reads to
 * the primary until one is (the write may have committed: a replica could miss it).
 */
export class SessionPosition {
  private lsn: bigint | undefined;
  private unknown = false;

  /** "" counts as no token (a cleared cookie); anything else malformed throws `InvalidLsnTokenError`. */
  constructor(token?: string) {
    if (token !== undefined && token !== "") this.lsn = parseLsnToken(token);
  }

  get token(): string | undefined {
    return this.lsn === undefined ? undefined : formatLsnToken(this.lsn);
  }

  observe(position: bigint | string): void {
    const lsn = toLsn(position);
    if (this.lsn === undefined || lsn > this.lsn) this.lsn = lsn;
  }

  /** Reads position from the primary after a write; also after a failed one (it may have committed). */
  async capture(readPosition: () => Promise<unknown>): Promise<void> {
    try {
      this.observe(String(await readPosition()));
      this.unknown = false;
    } catch {
      this.unknown = true;
    }
  }

  /** The read options of a session's read: eventual by default, never before its own writes. */
  readOptions(consistency: Consistency | undefined): { consistency: Consistency; after?: bigint } {
    return {
      consistency: this.unknown ? "strong" : (consistency ?? "eventual"),
      ...(this.lsn !== undefined ? { after: this.lsn } : {}),
    };
  }
}
