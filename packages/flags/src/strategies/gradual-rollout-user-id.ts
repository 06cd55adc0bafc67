import { bucketWithin, normalizedValue } from "../normalized-value.js";
import { isScalar, type StrategyCompiler, type StrategyEvaluator } from "./strategy-evaluator.js";

/** The older form of a rollout by `userId`: on for `percentage` percent of users. */
export const gradualRolloutUserId: StrategyEvaluator = (parameters, context) => {
  if (!context.userId) return false;
  const percentage = Number(parameters.percentage);
  return percentage > 0 && normalizedValue(context.userId, parameters.groupId || "") <= percentage;
};

export const compileGradualRolloutUserId: StrategyCompiler = (parameters) => {
  if (!isScalar(parameters.percentage) || !isScalar(parameters.groupId)) return undefined;
  const percentage = Number(parameters.percentage);
  const bucket = bucketWithin(parameters.groupId || "");
  return (context) => {
    if (!context.userId) return false;
    return percentage > 0 && bucket(context.userId) <= percentage;
  };
};
