import { bucketWithin, normalizedValue } from "../normalized-value.js";
import { isScalar, type StrategyCompiler, type StrategyEvaluator } from "./strategy-evaluator.js";

/** The older form of a rollout by `sessionId`: on for `percentage` percent of sessions. */
export const gradualRolloutSessionId: StrategyEvaluator = (parameters, context) => {
  if (!context.sessionId) return false;
  const percentage = Number(parameters.percentage);
  return percentage > 0 && normalizedValue(context.sessionId, parameters.groupId || "") <= percentage;
};

export const compileGradualRolloutSessionId: StrategyCompiler = (parameters) => {
  if (!isScalar(parameters.percentage) || !isScalar(parameters.groupId)) return undefined;
  const percentage = Number(parameters.percentage);
  const bucket = bucketWithin(parameters.groupId || "");
  return (context) => {
    if (!context.sessionId) return false;
    return percentage > 0 && bucket(context.sessionId) <= percentage;
  };
};
