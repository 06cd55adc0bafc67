import type { PgClientLike, PgPoolLike, PgResultLike, ReadOptions } from "./create-replica-aware-pool.js";
import type { Consistency, ReadRoute } from "./replica-router.js";
import { POSITION_SQL, SessionPosition } from "./session-position.js";

/** The pool's own reads, which the session gives its position to. */
interface Reads<P> {
  read<T>(fn: (pool: P, route: ReadRoute) => Promise<T>, options?: ReadOptions): Promise<T>;
  query<R>(text: string, values?: unknown[], options?: ReadOptions): Promise<PgResultLike<R>>;
}

/**
 * One user's reads and writes on node-postgres with read-your-writes: each write records the
 * primary's WAL position after its commit, and reads go only to a replica that has replayed it,
 * or to the primary. `token` carries the position to the user's next request (a cookie, a
 * header). Reads are eventual by default here: a session exists to read from replicas without
 * losing its own writes.
 */
export class ReplicaSession<P extends PgPoolLike> {
  private readonly position: SessionPosition;

  constructor(
    private readonly primary: P,
    private readonly reads: Reads<P>,
    token?: string,
  ) {
    this.position = new SessionPosition(token);
  }

  /** The position to send back with the response ("16/B374D848"); undefined before any write. */
  get token(): string | undefined {
    return this.position.token;
  }

  /** Takes a position learnt elsewhere (another token, a write made outside the session); keeps the later one. */
  observe(position: bigint | string): void {
    this.position.observe(position);
  }

  query<R = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    options: { consistency?: Consistency } = {},
  ): Promise<PgResultLike<R>> {
    return this.reads.query<R>(text, values, this.position.readOptions(options.consistency));
  }

  read<T>(
    fn: (pool: P, route: ReadRoute) => Promise<T>,
    options: { consistency?: Consistency } = {},
  ): Promise<T> {
    return this.reads.read(fn, this.position.readOptions(options.consistency));
  }

  /** A statement on the primary (INSERT, UPDATE, DELETE, a function with effects). */
  async write<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResultLike<R>> {
    try {
      return (await this.primary.query({ text, ...(values ? { values } : {}) })) as PgResultLike<R>;
    } finally {
      // Also after an error: a connection lost after COMMIT was sent may have committed.
      await this.capture();
    }
  }

  /** `fn` in a transaction on one primary client: BEGIN, then COMMIT, or ROLLBACK if it throws. */
  async transaction<T>(fn: (client: PgClientLike) => Promise<T>): Promise<T> {
    const client = await this.primary.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollback: unknown) => {
        broken = rollback instanceof Error ? rollback : new Error(String(rollback));
      });
      throw error;
    } finally {
      client.release(broken);
      await this.capture();
    }
  }

  private capture(): Promise<void> {
    return this.position.capture(
      async () =>
        ((await this.primary.query({ text: POSITION_SQL })).rows as Record<string, unknown>[])[0]?.lsn,
    );
  }
}
