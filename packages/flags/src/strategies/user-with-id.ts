import { isScalar, type StrategyCompiler, type StrategyEvaluator, splitList } from "./strategy-evaluator.js";

/** On for the listed user ids (`userIds`), compared exactly with the context's `userId`. */
export const userWithId: StrategyEvaluator = (parameters, context) => {
  const userIds = parameters.userIds ? splitList(parameters.userIds) : [];
  return context.userId !== undefined && userIds.includes(context.userId);
};

export const compileUserWithId: StrategyCompiler = (parameters) => {
  if (!isScalar(parameters.userIds)) return undefined;
  const userIds = new Set(parameters.userIds ? splitList(parameters.userIds) : []);
  return (context) => context.userId !== undefined && userIds.has(context.userId);
};
