import { normalizedValue } from "../normalized-value.js";
import type { StrategyEvaluator } from "./strategy-evaluator.js";

/** The older form of a rollout by `sessionId`: on for `percentage` percent of sessions. */
export const gradualRolloutSessionId: StrategyEvaluator = (parameters, context) => {
  if (!context.sessionId) return false;
  const percentage = Number(parameters.percentage);
  return percentage > 0 && normalizedValue(context.sessionId, parameters.groupId || "") <= percentage;
};
