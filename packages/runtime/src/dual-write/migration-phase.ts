/**
 * Where a store migration stands. Each phase says which store is the truth (answers reads, is written
 * first, and whose failures fail the request) and what the other store gets:
 *
 * - 0 `off`: the old store alone; the new one is not written (the step back from 1).
 * - 1 `dual-write`: old is the truth; every write also goes to the new store.
 * - 2 `backfill`: as 1, while `backfill()` copies the history.
 * - 3 `dual-read`: as 2, and reads also read the new store and compare (the old answer is returned).
 * - 4 `new-primary`: new is the truth; the old store is kept in step as the safety net.
 * - 5 `retired`: the new store alone; there is no way back from here.
 */
export type MigrationPhase = 0 | 1 | 2 | 3 | 4 | 5;

export const PHASE_NAMES = ["off", "dual-write", "backfill", "dual-read", "new-primary", "retired"] as const;

export type MigrationPhaseName = (typeof PHASE_NAMES)[number];

/** Whether the old store is the truth in this phase (0-3) or the new one (4-5). */
export function oldIsTruth(phase: MigrationPhase): boolean {
  return phase <= 3;
}

/** Whether the store that is not the truth is written too (1-4). */
export function writesBoth(phase: MigrationPhase): boolean {
  return phase >= 1 && phase <= 4;
}

export function isMigrationPhase(value: unknown): value is MigrationPhase {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 5;
}

/**
 * Reads a phase from text, as a flag's variant names it: `3`, `phase-3`, `phase3` or `dual-read`
 * (case and surrounding blanks ignored). Anything else is undefined.
 */
export function parseMigrationPhase(text: string): MigrationPhase | undefined {
  const t = text.trim().toLowerCase();
  const digits = /^(?:phase[-_ ]?)?([0-5])$/.exec(t);
  if (digits) return Number(digits[1]) as MigrationPhase;
  const index = (PHASE_NAMES as readonly string[]).indexOf(t);
  return index >= 0 ? (index as MigrationPhase) : undefined;
}
