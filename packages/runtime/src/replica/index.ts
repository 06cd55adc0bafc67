// Replica-lag-aware reads on node-postgres and postgres.js: its public exports only.
export {
  createReplicaAwarePool,
  type PgClientLike,
  type PgPoolLike,
  type PgResultLike,
  type ReadOptions,
  type ReplicaAwarePool,
  type ReplicaAwarePoolOptions,
} from "./create-replica-aware-pool.js";
export {
  createReplicaAwareSql,
  type PostgresJsSqlLike,
  type ReplicaAwareSql,
  type ReplicaAwareSqlOptions,
} from "./create-replica-aware-sql.js";
export { formatLsnToken, InvalidLsnTokenError, parseLsnToken } from "./lsn-token.js";
export type { ReadReason } from "./replica-metrics.js";
export type { Consistency, ReadRoute, ReplicaRoutingOptions } from "./replica-router.js";
export type { ReplicaSession } from "./replica-session.js";
export type { ReplicaSqlSession } from "./replica-sql-session.js";
export type { Hysteresis, MaxLag, ReplicaReason, ReplicaStatus } from "./replica-state.js";
export { ReplicaTimeoutError } from "./with-timeout.js";
