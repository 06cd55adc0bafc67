import { DualWriteError } from "./dual-write-error.js";
import { type MigrationPhase, parseMigrationPhase } from "./migration-phase.js";

/**
 * What the phase source needs of `@baton/flags`'s `createFlagClient` (or any Unleash-style client),
 * taken structurally so that the runtime never imports the flags package.
 */
export interface VariantClient {
  getVariant(
    name: string,
    // biome-ignore lint/suspicious/noExplicitAny: a client's own context type (FlagContext) must fit
    context?: any,
  ): { name: string; enabled: boolean; payload?: { type: string; value: string } };
}

export interface FlagPhaseOptions {
  /** The context the flag is evaluated with (default none: one answer for every instance). */
  context?: Record<string, unknown>;
  /**
   * The phase while the flag has never answered one (its client not ready, the flag unknown or
   * off). Without it, operations fail with `BATON_DUAL_WRITE_NO_PHASE` until it does.
   */
  whenUnknown?: MigrationPhase;
}

/**
 * A phase source reading a Baton flag's variant (`1`, `phase-3`, `dual-read`... or a payload
 * with one of those), so that the phase changes without a deploy and can go back. Once the flag
 * has answered, a flag turned off or a variant that names no phase keeps the last phase read: an
 * accident in the flag's definition must not send a migration back to phase 0.
 */
export function flagPhase(
  client: VariantClient,
  flag: string,
  options: FlagPhaseOptions = {},
): () => MigrationPhase {
  let last: MigrationPhase | undefined;
  return () => {
    const variant = client.getVariant(flag, options.context);
    const phase = variant.enabled
      ? (parseMigrationPhase(variant.name) ??
        (variant.payload ? parseMigrationPhase(variant.payload.value) : undefined))
      : undefined;
    if (phase !== undefined) last = phase;
    const answer = last ?? options.whenUnknown;
    if (answer === undefined) {
      throw new DualWriteError(
        "BATON_DUAL_WRITE_NO_PHASE",
        flag,
        `flag "${flag}" answers variant "${variant.name}", which names no phase (0-5 or off, dual-write, ` +
          "backfill, dual-read, new-primary, retired); wait for the client's ready() or give whenUnknown",
      );
    }
    return answer;
  };
}
