import type { StrategyEvaluator } from "./strategy-evaluator.js";
import { splitList } from "./strategy-evaluator.js";

/** On for the listed user ids (`userIds`), compared exactly with the context's `userId`. */
export const userWithId: StrategyEvaluator = (parameters, context) => {
  const userIds = parameters.userIds ? splitList(parameters.userIds) : [];
  return context.userId !== undefined && userIds.includes(context.userId);
};
