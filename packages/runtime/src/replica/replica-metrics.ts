import { Counter, register as defaultRegistry, Gauge, type Registry } from "prom-client";

/** Why a read went where it went (the `reason` label of `baton_runtime_replica_reads_total`). */
export type ReadReason =
  /** consistency "strong": the primary, always. */
  | "strong"
  /** an eventual read on a replica within maxLag. */
  | "eventual"
  /** a session's read on a replica that has replayed the session's last write. */
  | "replayed"
  /** no replica configured. */
  | "no_replica"
  /** every replica out of rotation or known complete too long ago. */
  | "lagging"
  /** no usable replica has replayed the session's last write yet. */
  | "not_replayed"
  /** the replica chosen failed or timed out; the read ran again on the primary. */
  | "replica_failed";

/** What the pool records; a no-op when metrics are turned off. */
export interface ReplicaMetrics {
  read(target: string, reason: ReadReason): void;
  transition(replica: string, to: "in" | "out", reason: string): void;
  lag(replica: string, ms: number | undefined, bytes: number | undefined, inRotation: boolean): void;
}

const NOOP: ReplicaMetrics = { read() {}, transition() {}, lag() {} };

/**
 * Reads per target and reason, rotation changes, and each replica's lag, in a prom-client
 * registry; the first pool registers the metrics and later ones reuse them (prom-client refuses a
 * second metric of the same name).
 */
export function replicaMetrics(registry: Registry | false | undefined): ReplicaMetrics {
  if (registry === false) return NOOP;
  const reg = registry ?? defaultRegistry;
  const get = <T>(name: string, make: () => T): T => (reg.getSingleMetric(name) as T | undefined) ?? make();
  const reads = get(
    "baton_runtime_replica_reads_total",
    () =>
      new Counter({
        name: "baton_runtime_replica_reads_total",
        help: "Reads of replica-aware pools, per target (a replica's name or primary) and why it was chosen.",
        labelNames: ["target", "reason"],
        registers: [reg],
      }),
  );
  const transitions = get(
    "baton_runtime_replica_transitions_total",
    () =>
      new Counter({
        name: "baton_runtime_replica_transitions_total",
        help: "Replicas taken out of (to=out) or brought back into (to=in) rotation, with the reason.",
        labelNames: ["replica", "to", "reason"],
        registers: [reg],
      }),
  );
  const inRotation = get(
    "baton_runtime_replica_in_rotation",
    () =>
      new Gauge({
        name: "baton_runtime_replica_in_rotation",
        help: "1 when the replica takes eventual reads, 0 when it is out of rotation.",
        labelNames: ["replica"],
        registers: [reg],
      }),
  );
  const lagSeconds = get(
    "baton_runtime_replica_lag_seconds",
    () =>
      new Gauge({
        name: "baton_runtime_replica_lag_seconds",
        help: "Staleness of the replica at its last check: the age of the oldest commit it may lack.",
        labelNames: ["replica"],
        registers: [reg],
      }),
  );
  const lagBytes = get(
    "baton_runtime_replica_lag_bytes",
    () =>
      new Gauge({
        name: "baton_runtime_replica_lag_bytes",
        help: "WAL bytes between the primary's current position and the replica's replay position at the last check.",
        labelNames: ["replica"],
        registers: [reg],
      }),
  );
  return {
    read: (target, reason) => reads.inc({ target, reason }),
    transition: (replica, to, reason) => transitions.inc({ replica, to, reason }),
    lag: (replica, ms, bytes, rotating) => {
      inRotation.set({ replica }, rotating ? 1 : 0);
      if (ms !== undefined) lagSeconds.set({ replica }, ms / 1000); // +Inf: nothing proves how stale it is
      if (bytes !== undefined) lagBytes.set({ replica }, bytes);
    },
  };
}
