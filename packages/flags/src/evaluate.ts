import { matchesConstraints } from "./constraints.js";
import type { EvaluationOptions, FlagContext } from "./flag-context.js";
import type { Constraint, Flag, FlagState, Segment, Strategy, VariantPayload } from "./flag-schema.js";
import { BUILT_IN_STRATEGIES } from "./strategies/built-in-strategies.js";
import { selectVariant } from "./variants.js";

/** What `getVariant` answers, in the shape of Unleash's SDKs (`feature_enabled` as `featureEnabled`). */
export interface Variant {
  name: string;
  enabled: boolean;
  /** Whether the flag itself is on: a flag can be on and have no variant (`disabled`). */
  featureEnabled: boolean;
  payload?: VariantPayload;
}

/** A flag's answer: on or off, and the variant its winning strategy chose, if any. */
export interface Evaluation {
  enabled: boolean;
  strategyVariant?: { name: string; payload?: VariantPayload };
}

interface IndexedState {
  flags: Map<string, Flag>;
  segments: Map<number, Segment>;
}

// Looking flags up by name for every evaluation would be linear; states are replaced, not mutated.
const indexes = new WeakMap<FlagState, IndexedState>();

function indexed(state: FlagState): IndexedState {
  let index = indexes.get(state);
  if (!index) {
    index = {
      flags: new Map(state.features.map((flag) => [flag.name, flag])),
      segments: new Map((state.segments ?? []).map((segment) => [segment.id, segment])),
    };
    indexes.set(state, index);
  }
  return index;
}

function* constraintsOf(strategy: Strategy, index: IndexedState): Generator<Constraint | undefined> {
  yield* strategy.constraints ?? [];
  for (const id of strategy.segments ?? []) {
    const segment = index.segments.get(id);
    if (!segment) {
      yield undefined;
      continue;
    }
    yield* segment.constraints;
  }
}

const OFF: Evaluation = { enabled: false };

function evaluateStrategies(
  flag: Flag,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
) {
  for (const strategy of flag.strategies) {
    const evaluator = BUILT_IN_STRATEGIES.get(strategy.name);
    if (!evaluator) continue;
    const parameters = strategy.parameters ?? {};
    if (!matchesConstraints(constraintsOf(strategy, index), context)) continue;
    if (!evaluator(parameters, context, options)) continue;
    const variants = strategy.variants ?? [];
    if (variants.length === 0) return { enabled: true };
    const stickiness = variants[0]!.stickiness || (parameters.stickiness as string | undefined);
    const groupId = parameters.groupId === undefined ? undefined : String(parameters.groupId);
    const chosen = selectVariant(groupId, stickiness, variants, context, options.random);
    if (!chosen) return { enabled: true };
    return { enabled: true, strategyVariant: { name: chosen.name, payload: chosen.payload } };
  }
  return OFF;
}

function parentsSatisfied(
  flag: Flag,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
): boolean {
  return (flag.dependencies ?? []).every((dependency) => {
    const parent = index.flags.get(dependency.feature);
    // Unleash allows one level of dependencies: a parent that has parents of its own is never satisfied.
    if (!parent || parent.dependencies?.length) return false;
    if (dependency.enabled === false) return !evaluateFlag(parent, index, context, options).enabled;
    if (!dependency.variants?.length) return evaluateFlag(parent, index, context, options).enabled;
    const variant = variantOf(parent, index, context, options);
    return variant.featureEnabled && dependency.variants.includes(variant.name);
  });
}

function evaluateFlag(flag: Flag, index: IndexedState, context: FlagContext, options: EvaluationOptions) {
  if (!parentsSatisfied(flag, index, context, options) || !flag.enabled) return OFF;
  if (!Array.isArray(flag.strategies)) return OFF;
  if (flag.strategies.length === 0) return { enabled: true };
  return evaluateStrategies(flag, index, context, options);
}

const disabledVariant = (featureEnabled: boolean): Variant => ({
  name: "disabled",
  enabled: false,
  featureEnabled,
});

function variantOf(
  flag: Flag,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
): Variant {
  const result = evaluateFlag(flag, index, context, options);
  if (!result.enabled) return disabledVariant(false);
  if (result.strategyVariant) return withPayload(result.strategyVariant);
  const chosen = flag.variants?.length
    ? selectVariant(flag.name, flag.variants[0]?.stickiness, flag.variants, context, options.random)
    : undefined;
  return chosen ? withPayload(chosen) : disabledVariant(true);
}

function withPayload(variant: { name: string; payload?: VariantPayload | undefined }): Variant {
  const result: Variant = { name: variant.name, enabled: true, featureEnabled: true };
  if (variant.payload !== undefined) result.payload = variant.payload;
  return result;
}

/** The full answer for a flag: on or off, and its strategy's variant. An unknown flag is off. */
export function evaluate(
  state: FlagState,
  name: string,
  context: FlagContext = {},
  options: EvaluationOptions = {},
): Evaluation {
  const index = indexed(state);
  const flag = index.flags.get(name);
  return flag ? evaluateFlag(flag, index, context, options) : OFF;
}

/** Whether a flag is on for a context. An unknown flag, or one whose strategies are all unknown, is off. */
export function isEnabled(
  state: FlagState,
  name: string,
  context: FlagContext = {},
  options: EvaluationOptions = {},
): boolean {
  return evaluate(state, name, context, options).enabled;
}

/**
 * The variant of a flag for a context: the winning strategy's variant if it has some, else the flag's
 * own variants; `disabled` when the flag is off, unknown or has no variants.
 */
export function getVariant(
  state: FlagState,
  name: string,
  context: FlagContext = {},
  options: EvaluationOptions = {},
): Variant {
  const index = indexed(state);
  const flag = index.flags.get(name);
  return flag ? variantOf(flag, index, context, options) : disabledVariant(false);
}
