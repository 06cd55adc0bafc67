import type { ProcessState } from "./instance-process-state.js";

/** What is kept in the database to adopt a running instance after a control-plane restart. */
export interface InstanceRecord {
  /** 0 for an instance Baton does not run (static provider). */
  pid: number;
  /**
   * When the process started (clock ticks since boot, /proc/<pid>/stat field 22): a pid reused
   * by another process after a reboot or a wrap-around is never adopted or signalled.
   */
  startedAt?: number;
  port: number;
  version: string;
  /** host:port, when the instance is not on this machine's loopback. */
  address?: string;
  /**
   * The readiness path its version was released with (baton.yaml's health.readiness then): it is
   * checked there for its whole life, whatever a later edit of baton.yaml says. Absent in records
   * written before it was kept: the service file's path then.
   */
  readinessPath?: string;
}

/** One instance of one version, as a release sees it, whoever runs it. */
export interface Instance {
  readonly address: string;
  readonly record: InstanceRecord;
  readonly state: ProcessState;
  readonly pid: number;
  readonly restarts: number;
  /** Where its readiness is checked: the path its version was released with. */
  readonly readinessPath: string;
  /** Resolves when ready; rejects when the instance fails, stops, or `timeoutMs` passes. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Takes the instance out of service (for a local one: SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs: number): Promise<void>;
  /** Brings a stopped instance back on the same address (a rolling release restoring the old version). */
  restart(): void;
}

export interface VersionSpec {
  service: string;
  version: string;
  /** Local provider: the command and directory. */
  run: string;
  cwd: string;
  count: number;
  readinessPath: string;
  /** How long each instance has to pass its readiness check. */
  startTimeout: number;
  env?: Record<string, string>;
  /** Static provider: the instances' addresses (run by something else). */
  addresses?: string[];
  /** The index of the first instance (a rolling batch after others): names its log file. */
  firstIndex?: number;
}

/** Where a version's instances come from: processes Baton runs, or addresses it is given. */
export interface Provider {
  readonly kind: "local" | "static";
  /** Starts (or takes) `spec.count` instances; resolves only when every one is ready. */
  startVersion(spec: VersionSpec): Promise<Instance[]>;
  /** Re-attaches to instances an earlier control plane recorded; returns those still there. */
  adopt(spec: VersionSpec, records: InstanceRecord[], opts?: { restart?: boolean }): Instance[];
  /**
   * Stops every process ever started for `service` that is still running, except (with
   * `spareOwned`) those an instance of this provider owns; returns their pids. Processes Baton
   * does not run (static provider) have nothing to sweep. Processes listening on `sparePorts` (what
   * the router routes to) are spared too.
   */
  sweep?(
    service: string,
    opts: { spareOwned: boolean; graceMs: number; sparePorts?: Set<number> },
  ): Promise<number[]>;
}

export class InstancesNotReadyError extends Error {
  readonly code = "BATON_INSTANCES_NOT_READY";
  constructor(
    readonly version: string,
    readonly reasons: string[],
    /** The processes that were started and stopped again (none for static instances). */
    readonly pids: number[],
  ) {
    super(
      `version ${version} did not become ready; it got no traffic${pids.length ? " and was stopped" : ""}:\n  ${reasons.join("\n  ")}`,
    );
  }
}
