import type { ReadOptions } from "./create-replica-aware-pool.js";
import { toLsn } from "./lsn-token.js";
import type { RowQuery } from "./replica-monitor.js";
import {
  type Consistency,
  type ReadRoute,
  ReplicaRouter,
  type ReplicaRoutingOptions,
} from "./replica-router.js";
import { ReplicaSqlSession } from "./replica-sql-session.js";
import type { ReplicaStatus } from "./replica-state.js";

/** A postgres.js `sql` instance, typed by what the router uses (so `postgres` is not a dependency). */
export interface PostgresJsSqlLike {
  unsafe(query: string): PromiseLike<readonly unknown[]> & { cancel?(): unknown };
  readonly options?: { host?: readonly string[]; port?: readonly number[] } | undefined;
}

export interface ReplicaAwareSqlOptions<S extends PostgresJsSqlLike> extends ReplicaRoutingOptions {
  primary: S;
  /** Streaming replicas of `primary`: an `sql` each, named by its host and port unless given a name. */
  replicas: (S | { name: string; sql: S })[];
  /** Of `read` without one (default "strong"). */
  defaultConsistency?: Consistency;
}

/** postgres.js instances, one primary and its replicas, with reads sent by consistency and lag. */
export interface ReplicaAwareSql<S extends PostgresJsSqlLike> {
  readonly primary: S;
  /**
   * A read made by `fn` with the `sql` chosen: `db.read((sql) => sql\`SELECT ...\`, { consistency:
   * "eventual" })`. Run again on the primary if the replica fails or times out, so `fn` must only read.
   */
  read<T>(fn: (sql: S, route: ReadRoute) => Promise<T>, options?: ReadOptions): Promise<T>;
  /** Read-your-writes for one user, from the token of its last request (malformed: `InvalidLsnTokenError`). */
  session(token?: string): ReplicaSqlSession<S>;
  status(): ReplicaStatus[];
  check(): Promise<void>;
  /** Stops the lag checks; the `sql` instances are the caller's to end. */
  close(): void;
}

/**
 * Replica-lag-aware reads on postgres.js: the same routing, checks and metrics as
 * `createReplicaAwarePool`. Its queries are tagged templates bound to one `sql` instance, so reads
 * and writes are functions given the instance chosen, rather than query text.
 */
export function createReplicaAwareSql<S extends PostgresJsSqlLike>(
  options: ReplicaAwareSqlOptions<S>,
): ReplicaAwareSql<S> {
  const { primary } = options;
  const defaultConsistency = options.defaultConsistency ?? "strong";
  const replicas = options.replicas.map((given, i) => {
    const named = "sql" in given && typeof (given as { name?: unknown }).name === "string";
    const sql = named ? (given as { sql: S }).sql : (given as S);
    const name = named ? (given as { name: string }).name : defaultName(sql, i);
    return { name, target: sql, query: rowQuery(sql) };
  });
  const router = new ReplicaRouter<S>(
    { name: "primary", target: primary, query: rowQuery(primary) },
    replicas,
    options,
  );
  const read = async <T>(fn: (sql: S, route: ReadRoute) => Promise<T>, readOptions: ReadOptions = {}) =>
    router.read(
      fn,
      readOptions.consistency ?? defaultConsistency,
      readOptions.after === undefined ? undefined : toLsn(readOptions.after),
    );
  return {
    primary,
    read,
    session: (token) => new ReplicaSqlSession(primary, read, token),
    status: () => router.status(),
    check: () => router.monitor.check(),
    close: () => router.close(),
  };
}

/** A check's statement, cancelled at its timeout so that a slow server does not keep running it. */
function rowQuery(sql: PostgresJsSqlLike): RowQuery {
  return async (text, timeoutMs) => {
    const query = sql.unsafe(text);
    const timer = setTimeout(() => void Promise.resolve(query.cancel?.()).catch(() => {}), timeoutMs);
    try {
      return (await query)[0] as Record<string, unknown> | undefined;
    } finally {
      clearTimeout(timer);
    }
  };
}

function defaultName(sql: PostgresJsSqlLike, index: number): string {
  const host = sql.options?.host?.[0];
  return host ? `${host}:${sql.options?.port?.[0] ?? 5432}` : `replica-${index + 1}`;
}
