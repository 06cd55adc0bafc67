import { normalizedValue } from "../normalized-value.js";
import type { StrategyEvaluator } from "./strategy-evaluator.js";

/** The older form of a rollout by `userId`: on for `percentage` percent of users. */
export const gradualRolloutUserId: StrategyEvaluator = (parameters, context) => {
  if (!context.userId) return false;
  const percentage = Number(parameters.percentage);
  return percentage > 0 && normalizedValue(context.userId, parameters.groupId || "") <= percentage;
};
