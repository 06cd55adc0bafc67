import type { ScheduledChange } from "./flag-schedule.js";

/** "new-checkout rollout 25%", "new-checkout enable": what a scheduled change does, in a few words. */
export function describeScheduled(c: Pick<ScheduledChange, "flag" | "action" | "percent">): string {
  return `${c.flag} ${c.action}${c.action === "rollout" ? ` ${c.percent}%` : ""}`;
}
