import { contextValue, type FlagContext, fieldReader } from "../flag-context.js";
import { bucketWithin, normalizedValue } from "../normalized-value.js";
import { isScalar, type StrategyCompiler, type StrategyEvaluator } from "./strategy-evaluator.js";

/** unleash-client's random stickiness: a number from 1 to 10001, hashed like any id. */
const randomId = (random: () => number): string => `${Math.round(random() * 10000) + 1}`;

function stickinessId(stickiness: string, context: FlagContext, random: () => number): unknown {
  switch (stickiness) {
    case "default":
      return context.userId || context.sessionId || randomId(random);
    case "random":
      return randomId(random);
    default:
      return contextValue(context, stickiness);
  }
}

/**
 * On for `rollout` percent of the ids named by `stickiness` (default: userId, else sessionId, else
 * random), bucketed within `groupId`; a context without that field is off.
 */
export const flexibleRollout: StrategyEvaluator = (parameters, context, options) => {
  const groupId = parameters.groupId || context.featureToggle || "";
  const percentage = Number(parameters.rollout);
  const id = stickinessId(String(parameters.stickiness || "default"), context, options.random ?? Math.random);
  if (!id) return false;
  return percentage > 0 && normalizedValue(id, groupId) <= percentage;
};

/** `flexibleRollout` for fixed parameters: the bucket prefix hashed once, no string built per call. */
export const compileFlexibleRollout: StrategyCompiler = (parameters) => {
  const { groupId, rollout, stickiness } = parameters;
  if (!isScalar(groupId) || !isScalar(rollout) || !isScalar(stickiness)) return undefined;
  const percentage = Number(rollout);
  const mode = String(stickiness || "default");
  const read = mode === "default" || mode === "random" ? undefined : fieldReader(mode);
  const fixed = groupId ? bucketWithin(groupId) : undefined;
  const ungrouped = bucketWithin("");
  return (context, options) => {
    let bucket = fixed;
    let group: unknown = "";
    if (!bucket) {
      group = context.featureToggle || "";
      if (group === "") bucket = ungrouped;
    }
    const id: unknown = read
      ? read(context)
      : mode === "default"
        ? context.userId || context.sessionId || randomId(options.random ?? Math.random)
        : randomId(options.random ?? Math.random);
    if (!id) return false;
    return percentage > 0 && (bucket ? bucket(id) : normalizedValue(id, group)) <= percentage;
  };
};
