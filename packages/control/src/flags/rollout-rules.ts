import type { Flag } from "@baton/flags";
import type { Verdict } from "../analysis/canary-analysis.js";
import { badRequest } from "../api-input.js";
import type { GuardedRollout, RolloutState } from "./guarded-rollout-store.js";

/** The percentage of the flag's first flexibleRollout strategy; undefined without one. */
export function rolloutPercent(flag: Flag): number | undefined {
  const s = flag.strategies.find((x) => x.name === "flexibleRollout");
  if (!s) return undefined;
  const p = Number(s.parameters?.rollout ?? 100);
  return Number.isFinite(p) ? p : 0;
}

/** The percentage a rollout in this state wants its flag at. */
export function wanted(r: GuardedRollout): number {
  const live: RolloutState[] = ["running", "paused"];
  if (live.includes(r.state) && r.step >= 0) return r.steps[r.step]!;
  return r.lastGood;
}

export function numbersOf(v: Verdict): Record<string, unknown> {
  return {
    decision: v.decision,
    errorRate: {
      on: v.errorRate.canary,
      off: v.errorRate.stable,
      increaseAtLeast: v.errorRate.lower,
      increaseAtMost: v.errorRate.upper,
    },
    latency: { p95OnMs: v.latency.p95CanaryMs, p95OffMs: v.latency.p95StableMs },
    requests: { on: v.requests.canary, off: v.requests.stable },
  };
}

/** Steps: 1 to 20 percentages, each above 0 and at most 100, strictly increasing. */
export function checkSteps(steps: number[]): number[] {
  if (steps.length === 0 || steps.length > 20)
    throw badRequest("steps", `steps: give 1 to 20 percentages, got ${steps.length}`);
  steps.forEach((p, i) => {
    if (!Number.isFinite(p) || p <= 0 || p > 100)
      throw badRequest(`steps[${i}]`, `steps[${i}]: ${p} is not a percentage above 0 and at most 100`);
    if (i > 0 && p <= steps[i - 1]!)
      throw badRequest(
        `steps[${i}]`,
        `steps[${i}]: ${p} is not above the step before it (${steps[i - 1]}); steps only go up`,
      );
  });
  return steps;
}
