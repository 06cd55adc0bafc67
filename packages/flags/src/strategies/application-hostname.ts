import type { StrategyEvaluator } from "./strategy-evaluator.js";
import { splitList } from "./strategy-evaluator.js";

/** On for the listed host names (`hostNames`, any case); the host is the caller's `hostname` option. */
export const applicationHostname: StrategyEvaluator = (parameters, _context, options) => {
  if (!parameters.hostNames || options.hostname === undefined) return false;
  return splitList(String(parameters.hostNames).toLowerCase()).includes(options.hostname.toLowerCase());
};
