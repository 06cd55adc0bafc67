/**
 * What went wrong with a migration, as a stable code a caller can branch on:
 *
 * - `BATON_DUAL_WRITE_BAD_OPTION`: an option the migration cannot work with (an unknown phase, a
 *   threshold outside 0..1...).
 * - `BATON_DUAL_WRITE_ADVANCE_REFUSED`: `advanceTo` was asked for a phase whose conditions are not
 *   met (backfill not complete, too many mismatches, writes not yet repaired, leaving phase 5);
 *   the message lists every reason.
 * - `BATON_DUAL_WRITE_NO_PHASE`: the phase source has nothing to say yet (a flag with no phase
 *   variant and no `whenUnknown`).
 * - `BATON_DUAL_WRITE_WRONG_PHASE`: an operation that makes no sense in the current phase (a
 *   backfill in phase 0 or 5).
 *
 * A failure of the store that is not the truth is never an error of the request: it is counted.
 */
export type DualWriteErrorCode =
  | "BATON_DUAL_WRITE_BAD_OPTION"
  | "BATON_DUAL_WRITE_ADVANCE_REFUSED"
  | "BATON_DUAL_WRITE_NO_PHASE"
  | "BATON_DUAL_WRITE_WRONG_PHASE";

export class DualWriteError extends Error {
  override readonly name = "DualWriteError";
  readonly code: DualWriteErrorCode;
  /** The migration's name. */
  readonly migration: string;

  constructor(code: DualWriteErrorCode, migration: string, message: string, cause?: unknown) {
    super(`migration "${migration}": ${message}`, cause === undefined ? undefined : { cause });
    this.code = code;
    this.migration = migration;
  }
}

/** True for a `DualWriteError` with this code (or any code when none is given). */
export function isDualWriteError(error: unknown, code?: DualWriteErrorCode): error is DualWriteError {
  return error instanceof DualWriteError && (code === undefined || error.code === code);
}
