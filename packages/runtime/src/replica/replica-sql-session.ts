import type { ReadOptions } from "./create-replica-aware-pool.js";
import type { PostgresJsSqlLike } from "./create-replica-aware-sql.js";
import type { Consistency, ReadRoute } from "./replica-router.js";
import { POSITION_SQL, SessionPosition } from "./session-position.js";

type Read<S> = <T>(fn: (sql: S, route: ReadRoute) => Promise<T>, options?: ReadOptions) => Promise<T>;

/**
 * One user's reads and writes on postgres.js with read-your-writes (see `ReplicaSession`): writes
 * are functions given the primary's `sql` (a statement, or `sql.begin(...)` for a transaction),
 * after which the primary's position is recorded.
 */
export class ReplicaSqlSession<S extends PostgresJsSqlLike> {
  private readonly position: SessionPosition;

  constructor(
    private readonly primary: S,
    private readonly readWith: Read<S>,
    token?: string,
  ) {
    this.position = new SessionPosition(token);
  }

  /** The position to send back with the response ("16/B374D848"); undefined before any write. */
  get token(): string | undefined {
    return this.position.token;
  }

  observe(position: bigint | string): void {
    this.position.observe(position);
  }

  /** Eventual by default, never before the session's own writes. */
  read<T>(
    fn: (sql: S, route: ReadRoute) => Promise<T>,
    options: { consistency?: Consistency } = {},
  ): Promise<T> {
    return this.readWith(fn, this.position.readOptions(options.consistency));
  }

  async write<T>(fn: (sql: S) => Promise<T>): Promise<T> {
    try {
      return await fn(this.primary);
    } finally {
      // Also after an error: a connection lost after COMMIT was sent may have committed.
      await this.position.capture(
        async () => ((await this.primary.unsafe(POSITION_SQL))[0] as { lsn?: unknown })?.lsn,
      );
    }
  }
}
