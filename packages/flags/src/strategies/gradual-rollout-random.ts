import type { StrategyEvaluator } from "./strategy-evaluator.js";

/** On for `percentage` percent of evaluations, each drawn anew (not sticky). */
export const gradualRolloutRandom: StrategyEvaluator = (parameters, _context, options) => {
  const draw = Math.floor((options.random ?? Math.random)() * 100) + 1;
  return Number(parameters.percentage) >= draw;
};
