import type { Flag } from "@baton/flags";
import type { FlagRecord } from "./flag-store.js";

/** A flag that decides nothing any more: the same answer for everyone, for a long time. */
export interface StaleFlag {
  name: string;
  /** fullyOn: everyone gets it; fullyOff: no one does. */
  state: "fullyOn" | "fullyOff";
  /** Its last change. */
  since: string;
  /** Whole days since then. */
  daysUnchanged: number;
  /** What to do about it. */
  hint: string;
}

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { d: DAY_MS, h: 3_600_000, m: 60_000, s: 1000 };
/** Longer than any flag should live, and short of what a Date can hold. */
const MAX_AGE_MS = 3650 * DAY_MS;

/** The default threshold: unchanged for a month. */
export const DEFAULT_STALE_AFTER = "30d";

/** "30d", "12h", "90m", "1d12h" in milliseconds; undefined if it is not such a duration. */
export function durationMs(text: string): number | undefined {
  if (!/^(?:\d{1,6}(?:\.\d{1,3})?[dhms])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)([dhms])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms <= MAX_AGE_MS ? Math.round(ms) : undefined;
}

const ROLLOUTS: Record<string, string> = {
  flexibleRollout: "rollout",
  gradualRolloutRandom: "percentage",
  gradualRolloutSessionId: "percentage",
  gradualRolloutUserId: "percentage",
};

type Strategy = Flag["strategies"][number];

/** A strategy's rollout percentage (undefined: not a rollout strategy, or no number). */
function rolloutOf(s: Strategy): number | undefined {
  const key = ROLLOUTS[s.name];
  const value = key === undefined ? undefined : s.parameters?.[key];
  return value === undefined || value === "" ? undefined : Number(value);
}

const unconditional = (s: Strategy) => !s.constraints?.length && !s.segments?.length;

/** More than one variant that someone can get: the flag still splits its users. */
function splitsVariants(flag: Flag): boolean {
  const live = (variants: readonly { weight: number }[] | undefined) =>
    (variants ?? []).filter((v) => v.weight > 0).length;
  return live(flag.variants) > 1 || flag.strategies.some((s) => live(s.variants) > 1);
}

/** Whether a flag gives everyone the same answer, and which; undefined: it still decides. */
export function uniformState(flag: Flag): StaleFlag["state"] | undefined {
  // Variants split between users are an experiment, even one paused: not for cleaning up.
  if (splitsVariants(flag)) return undefined;
  if (!flag.enabled) return "fullyOff";
  const { strategies } = flag;
  if (strategies.length > 0 && strategies.every((s) => rolloutOf(s) === 0)) return "fullyOff";
  // A flag that depends on another is on only where its parent is: that still decides.
  if (flag.dependencies?.length) return undefined;
  // As Unleash evaluates it: enabled with no strategies is on for everyone.
  if (strategies.length === 0) return "fullyOn";
  const everyone = (s: Strategy) =>
    unconditional(s) && (s.name === "default" || (s.name in ROLLOUTS && rolloutOf(s) === 100));
  return strategies.some(everyone) ? "fullyOn" : undefined;
}

/**
 * The flags on or off for everyone, unchanged for at least `olderThanMs`, longest unchanged first.
 * A flag with a scheduled change pending (`pending`) is about to change, so it is not stale.
 */
export function staleFlags(
  records: readonly FlagRecord[],
  opts: { olderThanMs: number; pending: ReadonlySet<string>; now: Date },
): StaleFlag[] {
  const out: StaleFlag[] = [];
  for (const r of records) {
    const unchangedMs = opts.now.getTime() - Date.parse(r.updatedAt);
    if (unchangedMs < opts.olderThanMs || opts.pending.has(r.name)) continue;
    const state = uniformState(r.flag);
    if (!state) continue;
    const days = Math.floor(unchangedMs / DAY_MS);
    // A threshold under a day (--older-than 12h) would otherwise read "for 0 days".
    const hours = Math.floor(unchangedMs / 3_600_000);
    const period =
      days >= 1
        ? `${days} day${days === 1 ? "" : "s"}`
        : hours >= 1
          ? `${hours} h`
          : `${Math.floor(unchangedMs / 60_000)} min`;
    out.push({
      name: r.name,
      state,
      since: r.updatedAt,
      daysUnchanged: days,
      hint:
        state === "fullyOn"
          ? `on for everyone for ${period}: remove the flag and the code path that is never taken`
          : `off for everyone for ${period}: remove the flag and the code it guards (or turn it on)`,
    });
  }
  return out.sort((a, b) => a.since.localeCompare(b.since) || a.name.localeCompare(b.name));
}
