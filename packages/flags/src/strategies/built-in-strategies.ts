import { applicationHostname } from "./application-hostname.js";
import { compileDefaultStrategy, defaultStrategy } from "./default-strategy.js";
import { compileFlexibleRollout, flexibleRollout } from "./flexible-rollout.js";
import { gradualRolloutRandom } from "./gradual-rollout-random.js";
import { compileGradualRolloutSessionId, gradualRolloutSessionId } from "./gradual-rollout-session-id.js";
import { compileGradualRolloutUserId, gradualRolloutUserId } from "./gradual-rollout-user-id.js";
import { remoteAddress } from "./remote-address.js";
import type { StrategyCompiler, StrategyEvaluator } from "./strategy-evaluator.js";
import { compileUserWithId, userWithId } from "./user-with-id.js";

/** Unleash's built-in strategies by name; any other name is off, as in Unleash's SDKs. */
export const BUILT_IN_STRATEGIES: ReadonlyMap<string, StrategyEvaluator> = new Map([
  ["default", defaultStrategy],
  ["userWithId", userWithId],
  ["flexibleRollout", flexibleRollout],
  ["gradualRolloutUserId", gradualRolloutUserId],
  ["gradualRolloutSessionId", gradualRolloutSessionId],
  ["gradualRolloutRandom", gradualRolloutRandom],
  ["remoteAddress", remoteAddress],
  ["applicationHostname", applicationHostname],
]);

/**
 * Compiled forms of the strategies evaluated most, answering as their evaluator does for the same
 * parameters; the others run their evaluator as it is.
 */
export const STRATEGY_COMPILERS: ReadonlyMap<string, StrategyCompiler> = new Map([
  ["default", compileDefaultStrategy],
  ["userWithId", compileUserWithId],
  ["flexibleRollout", compileFlexibleRollout],
  ["gradualRolloutUserId", compileGradualRolloutUserId],
  ["gradualRolloutSessionId", compileGradualRolloutSessionId],
]);
