import { applicationHostname } from "./application-hostname.js";
import { defaultStrategy } from "./default-strategy.js";
import { flexibleRollout } from "./flexible-rollout.js";
import { gradualRolloutRandom } from "./gradual-rollout-random.js";
import { gradualRolloutSessionId } from "./gradual-rollout-session-id.js";
import { gradualRolloutUserId } from "./gradual-rollout-user-id.js";
import { remoteAddress } from "./remote-address.js";
import type { StrategyEvaluator } from "./strategy-evaluator.js";
import { userWithId } from "./user-with-id.js";

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
