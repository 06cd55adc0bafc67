import { contextValue, type FlagContext } from "../flag-context.js";
import { normalizedValue } from "../normalized-value.js";
import type { StrategyEvaluator } from "./strategy-evaluator.js";

/** unleash-client's random stickiness: a number from 1 to 10001, hashed like any id. */
const randomId = (random: () => number): string => `${Math.round(random() * 10000) + 1}`;

function stickinessId(stickiness: string, context: FlagContext, random: () => number): unknown {
  switch (stickiness) {
    case "default":
      return context.userId || context.sessionId || randomId(random);
    case "random":
      return randomId(random);
    default:
      return contextValue(context, stickiness);
  }
}

/**
 * On for `rollout` percent of the ids named by `stickiness` (default: userId, else sessionId, else
 * random), bucketed within `groupId`; a context without that field is off.
 */
export const flexibleRollout: StrategyEvaluator = (parameters, context, options) => {
  const groupId = parameters.groupId || context.featureToggle || "";
  const percentage = Number(parameters.rollout);
  const id = stickinessId(String(parameters.stickiness || "default"), context, options.random ?? Math.random);
  if (!id) return false;
  return percentage > 0 && normalizedValue(id, groupId) <= percentage;
};
