import type { StrategyCompiler, StrategyEvaluator } from "./strategy-evaluator.js";

/** On for everyone (its constraints and segments still apply). */
export const defaultStrategy: StrategyEvaluator = () => true;

export const compileDefaultStrategy: StrategyCompiler = () => () => true;
