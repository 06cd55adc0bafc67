import { Counter, register as defaultRegistry, type Registry } from "prom-client";
import type { MigrationPhase } from "./migration-phase.js";

/** What a migration did in one phase; plain numbers, read at any time. */
export interface DualWritePhaseStats {
  /** Writes and deletes acknowledged (the truth store took them). */
  writes: number;
  /**
   * Writes to the store that is not the truth (the new one in 1-3, the old one in 4) that failed;
   * the request succeeded, and the key waits in `pendingRepairs`.
   */
  secondaryFailures: number;
  /** Records the backfill copied (a newer copy already there is not counted). */
  backfilled: number;
  /** Phase-3 reads compared against the new store. */
  comparisons: number;
  /** Of those, the ones whose answers differed. */
  mismatches: number;
  /** Keys whose failed secondary write was copied again from the truth by `repair()`. */
  repaired: number;
}

export type DualWriteStats = Record<MigrationPhase, DualWritePhaseStats>;
export type DualWriteStatName = keyof DualWritePhaseStats;

export function emptyDualWriteStats(): DualWriteStats {
  const phase = (): DualWritePhaseStats => ({
    writes: 0,
    secondaryFailures: 0,
    backfilled: 0,
    comparisons: 0,
    mismatches: 0,
    repaired: 0,
  });
  return { 0: phase(), 1: phase(), 2: phase(), 3: phase(), 4: phase(), 5: phase() };
}

const HELP: Record<DualWriteStatName, string> = {
  writes: "Writes and deletes acknowledged by the truth store, per phase.",
  secondaryFailures:
    "Writes to the store that is not the truth that failed (the request did not), per phase.",
  backfilled: "Records copied by the backfill, per phase.",
  comparisons: "Reads compared between the old and the new store, per phase.",
  mismatches: "Compared reads whose answers differed, per phase.",
  repaired: "Failed secondary writes copied again from the truth, per phase.",
};

const PROM_NAME = (stat: DualWriteStatName) =>
  `baton_runtime_dual_write_${stat.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;

/**
 * Counts `n` events in `stats` and, unless `registry` is false, in prom-client as
 * `baton_runtime_dual_write_<event>_total{migration,phase}` (the first migration registers the
 * counters, the others reuse them).
 */
export function dualWriteCounter(
  stats: DualWriteStats,
  migration: string,
  registry: Registry | false | undefined,
): (phase: MigrationPhase, stat: DualWriteStatName, n?: number) => void {
  if (registry === false) return (phase, stat, n = 1) => void (stats[phase][stat] += n);
  const reg = registry ?? defaultRegistry;
  const counters = new Map<DualWriteStatName, Counter>();
  for (const stat of Object.keys(HELP) as DualWriteStatName[]) {
    const name = PROM_NAME(stat);
    counters.set(
      stat,
      (reg.getSingleMetric(name) as Counter | undefined) ??
        new Counter({ name, help: HELP[stat], labelNames: ["migration", "phase"], registers: [reg] }),
    );
  }
  return (phase, stat, n = 1) => {
    stats[phase][stat] += n;
    counters.get(stat)?.inc({ migration, phase: String(phase) }, n);
  };
}
