import { toLsn } from "./lsn-token.js";
import {
  type Consistency,
  type ReadRoute,
  ReplicaRouter,
  type ReplicaRoutingOptions,
} from "./replica-router.js";
import { ReplicaSession } from "./replica-session.js";
import type { ReplicaStatus } from "./replica-state.js";

/** A node-postgres result, typed by what the pool uses (so `pg` is not a dependency). */
export interface PgResultLike<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number | null;
}

/** A node-postgres pooled client (`pool.connect()`). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<PgResultLike<never>>;
  release(error?: Error | boolean): void;
}

/** A node-postgres `Pool`, typed by what the pool uses. */
export interface PgPoolLike {
  query(config: { text: string; values?: unknown[]; query_timeout?: number }): Promise<PgResultLike<never>>;
  connect(): Promise<PgClientLike>;
  readonly options?: { host?: string | undefined; port?: number | undefined } | undefined;
}

export interface ReplicaAwarePoolOptions<P extends PgPoolLike> extends ReplicaRoutingOptions {
  /** Writes and strong reads, and eventual reads when no replica will do. */
  primary: P;
  /** Streaming replicas of `primary`: a pool each, named by its host and port unless given a name. */
  replicas: (P | { name: string; pool: P })[];
  /** Of `query` and `read` without one (default "strong": replicas only where asked for). */
  defaultConsistency?: Consistency;
}

export interface ReadOptions {
  consistency?: Consistency;
  /** A position (read-your-writes token) the replica must have replayed. */
  after?: bigint | string;
}

/** node-postgres pools, one primary and its replicas, with reads sent by consistency and lag. */
export interface ReplicaAwarePool<P extends PgPoolLike> {
  readonly primary: P;
  /** A read (`SELECT`): on the primary, or with `consistency: "eventual"` on a replica within maxLag. */
  query<R = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    options?: ReadOptions,
  ): Promise<PgResultLike<R>>;
  /** A read made by `fn` with the pool chosen (cursors, several statements); run again on the primary if the replica fails. */
  read<T>(fn: (pool: P, route: ReadRoute) => Promise<T>, options?: ReadOptions): Promise<T>;
  /**
   * Read-your-writes for one user: its writes go to the primary and record the primary's position,
   * its reads go to a replica only once that replica has replayed it. Give the token that came back
   * with the user's request (cookie, header): a malformed one throws `InvalidLsnTokenError`.
   */
  session(token?: string): ReplicaSession<P>;
  /** Each replica: in rotation or not, why, its lag at the last check. */
  status(): ReplicaStatus[];
  /** Runs a round of lag checks now (at startup, in tests); never rejects. */
  check(): Promise<void>;
  /** Stops the lag checks; the pools are the caller's to end. */
  close(): void;
}

/**
 * Replica-lag-aware reads on node-postgres. Pools are taken structurally: nothing is imported at
 * run time. Lag is checked in the background (`checkIntervalMs`), every check and replica read
 * is bounded (`checkTimeoutMs`, `replicaTimeoutMs`), and a replica that fails or lags leaves the
 * rotation at once and comes back with hysteresis.
 */
export function createReplicaAwarePool<P extends PgPoolLike>(
  options: ReplicaAwarePoolOptions<P>,
): ReplicaAwarePool<P> {
  const { primary } = options;
  const bad = (message: string) => new TypeError(`createReplicaAwarePool: ${message}`);
  if (!primary || typeof (primary as { query?: unknown }).query !== "function")
    throw bad("primary must be a node-postgres Pool (new pg.Pool({ connectionString }))");
  if (!Array.isArray(options.replicas))
    throw bad("replicas must be a list of Pools (or { name, pool }); [] reads from the primary only");
  if (options.maxLag === undefined)
    throw bad("maxLag is required: the staleness a read may see, in ms (e.g. 1000) or { ms, bytes }");
  const defaultConsistency = options.defaultConsistency ?? "strong";
  consistencyOf(defaultConsistency, "defaultConsistency");
  const replicas = options.replicas.map((given, i) => {
    const named = "pool" in given && typeof (given as { name?: unknown }).name === "string";
    const pool = named ? (given as { pool: P }).pool : (given as P);
    const name = named ? (given as { name: string }).name : defaultName(pool, i);
    return { name, target: pool, query: rowQuery(pool) };
  });
  const router = new ReplicaRouter<P>(
    { name: "primary", target: primary, query: rowQuery(primary) },
    replicas,
    options,
  );
  const query = <R>(pool: P, route: ReadRoute, text: string, values?: unknown[]) =>
    // A replica's query carries pg's own timeout too, so that pg drops the hung client from its pool.
    pool.query({
      text,
      ...(values ? { values } : {}),
      ...(route.target === "primary" ? {} : { query_timeout: options.replicaTimeoutMs ?? 2000 }),
    }) as Promise<PgResultLike<R>>;
  const read = async <T>(fn: (pool: P, route: ReadRoute) => Promise<T>, readOptions: ReadOptions = {}) =>
    router.read(
      fn,
      consistencyOf(readOptions.consistency ?? defaultConsistency, "consistency"),
      readOptions.after === undefined ? undefined : toLsn(readOptions.after),
    );
  const reads = {
    read,
    query: <R>(text: string, values?: unknown[], readOptions?: ReadOptions) =>
      read((pool, route) => query<R>(pool, route, text, values), readOptions),
  };
  return {
    primary,
    ...reads,
    session: (token) => new ReplicaSession(primary, reads, token),
    status: () => router.status(),
    check: () => router.monitor.check(),
    close: () => router.close(),
  };
}

function rowQuery(pool: PgPoolLike) {
  return async (text: string, timeoutMs: number) =>
    ((await pool.query({ text, query_timeout: timeoutMs })).rows as Record<string, unknown>[])[0];
}

function defaultName(pool: PgPoolLike, index: number): string {
  const { host, port } = pool.options ?? {};
  return host ? `${host}:${port ?? 5432}` : `replica-${index + 1}`;
}

/** "eventual" or "strong", or a TypeError naming the typo ("eventually" must not read as strong). */
function consistencyOf(value: unknown, option: string): Consistency {
  if (value === "eventual" || value === "strong") return value;
  throw new TypeError(`${option} must be "eventual" or "strong", not ${JSON.stringify(value)}`);
}
