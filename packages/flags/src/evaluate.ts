import { type ConstraintCheck, compileConstraint, matchesConstraints } from "./constraints.js";
import type { EvaluationOptions, FlagContext } from "./flag-context.js";
import type { Constraint, Flag, FlagState, Segment, Strategy, VariantPayload } from "./flag-schema.js";
import { BUILT_IN_STRATEGIES, STRATEGY_COMPILERS } from "./strategies/built-in-strategies.js";
import type { StrategyRule } from "./strategies/strategy-evaluator.js";
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

/** A flag's evaluation compiled from its definition within one state (its segments, its parents). */
type FlagRun = (context: FlagContext, options: EvaluationOptions) => Evaluation;

interface FlagEntry {
  flag: Flag;
  /** Compiled at its first evaluation. */
  run?: FlagRun;
}

interface IndexedState {
  flags: Map<string, FlagEntry>;
  segments: Map<number, Segment>;
}

// Looking flags up by name for every evaluation would be linear, and reading their definitions anew
// (lists, numbers, versions, hashes of group ids) costs more than deciding: each state is indexed,
// and each flag compiled, once. States are replaced, not mutated.
const indexes = new WeakMap<FlagState, IndexedState>();

// Most processes evaluate one state at a time: the last one is kept at hand (and alive until the next).
let lastState: FlagState | undefined;
let lastIndex: IndexedState | undefined;

function indexed(state: FlagState): IndexedState {
  if (state === lastState) return lastIndex!;
  let index = indexes.get(state);
  if (!index) {
    index = {
      flags: new Map(state.features.map((flag) => [flag.name, { flag }])),
      segments: new Map((state.segments ?? []).map((segment) => [segment.id, segment])),
    };
    indexes.set(state, index);
  }
  lastState = state;
  lastIndex = index;
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
const ON: Evaluation = { enabled: true };
const NO_OPTIONS: EvaluationOptions = {};

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
    if (!parent || parent.flag.dependencies?.length) return false;
    if (dependency.enabled === false) return !evaluateFlag(parent, index, context, options).enabled;
    if (!dependency.variants?.length) return evaluateFlag(parent, index, context, options).enabled;
    const variant = variantOf(parent, index, context, options);
    return variant.featureEnabled && dependency.variants.includes(variant.name);
  });
}

/** The flag's definition read as it is, step by step: for definitions of an unusual shape. */
function interpretFlag(
  flag: Flag,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
): Evaluation {
  if (!parentsSatisfied(flag, index, context, options) || !flag.enabled) return OFF;
  if (!Array.isArray(flag.strategies)) return OFF;
  if (flag.strategies.length === 0) return { enabled: true };
  return evaluateStrategies(flag, index, context, options);
}

/** A strategy compiled: its constraints (segments' included), its rule, its variants. */
interface CompiledStrategy {
  checks: ConstraintCheck[];
  rule: StrategyRule;
  variants?: { groupId: string | undefined; stickiness: string | undefined; list: Strategy["variants"] & {} };
}

const isNullish = (value: unknown): value is null | undefined => value === undefined || value === null;

/**
 * A strategy as the interpreter would run it, or undefined when its shape is unusual (the whole flag
 * is then interpreted, so that it answers, or throws, exactly as it does). `null`: an unknown
 * strategy, which the interpreter skips.
 */
function compileStrategy(strategy: Strategy, index: IndexedState): CompiledStrategy | null | undefined {
  if (isNullish(strategy)) return undefined;
  const evaluator = BUILT_IN_STRATEGIES.get(strategy.name);
  if (!evaluator) return null;
  const parameters = strategy.parameters ?? {};
  const { constraints, segments, variants } = strategy;
  if (!isNullish(constraints) && !Array.isArray(constraints)) return undefined;
  if (!isNullish(segments) && !Array.isArray(segments)) return undefined;
  const checks: ConstraintCheck[] = [];
  for (const constraint of constraints ?? []) checks.push(compileConstraint(constraint));
  for (const id of segments ?? []) {
    const segment = index.segments.get(id);
    if (!segment) {
      checks.push(compileConstraint(undefined));
      continue;
    }
    if (!Array.isArray(segment.constraints)) return undefined;
    for (const constraint of segment.constraints) checks.push(compileConstraint(constraint));
  }
  const rule: StrategyRule =
    (typeof parameters === "object" ? STRATEGY_COMPILERS.get(strategy.name)?.(parameters) : undefined) ??
    ((context, options) => evaluator(parameters, context, options));
  const compiled: CompiledStrategy = { checks, rule };
  if (isNullish(variants)) return compiled;
  if (!Array.isArray(variants)) return undefined;
  if (variants.length === 0) return compiled;
  const first = variants[0];
  const groupId: unknown = parameters.groupId;
  if (
    isNullish(first) ||
    !(groupId === undefined || typeof groupId === "string" || typeof groupId === "number")
  )
    return undefined;
  compiled.variants = {
    groupId: groupId === undefined ? undefined : String(groupId),
    stickiness: first.stickiness || (parameters.stickiness as string | undefined),
    list: variants,
  };
  return compiled;
}

function passes(checks: readonly ConstraintCheck[], context: FlagContext): boolean {
  for (let c = 0; c < checks.length; c++) if (!checks[c]!(context)) return false;
  return true;
}

/** The flag's evaluation as a function of the context; `interpretFlag` for a flag of unusual shape. */
function compileFlag(flag: Flag, index: IndexedState): FlagRun {
  const interpreted: FlagRun = (context, options) => interpretFlag(flag, index, context, options);
  const { dependencies, strategies } = flag;
  const hasParents = !(isNullish(dependencies) || (Array.isArray(dependencies) && dependencies.length === 0));
  const enabled = !!flag.enabled;
  if (!enabled || !Array.isArray(strategies) || strategies.length === 0) {
    const answer = enabled && Array.isArray(strategies) ? ON : OFF;
    if (!hasParents) return () => answer;
    return (context, options) => (parentsSatisfied(flag, index, context, options) ? answer : OFF);
  }
  const compiled: CompiledStrategy[] = [];
  for (const strategy of strategies) {
    const one = compileStrategy(strategy, index);
    if (one === undefined) return interpreted;
    if (one !== null) compiled.push(one);
  }
  const count = compiled.length;
  return (context, options) => {
    if (hasParents && !parentsSatisfied(flag, index, context, options)) return OFF;
    for (let s = 0; s < count; s++) {
      const strategy = compiled[s]!;
      if (!passes(strategy.checks, context) || !strategy.rule(context, options)) continue;
      const variants = strategy.variants;
      if (!variants) return ON;
      const chosen = selectVariant(
        variants.groupId,
        variants.stickiness,
        variants.list,
        context,
        options.random,
      );
      if (!chosen) return ON;
      return { enabled: true, strategyVariant: { name: chosen.name, payload: chosen.payload } };
    }
    return OFF;
  };
}

function evaluateFlag(
  entry: FlagEntry,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
): Evaluation {
  let run = entry.run;
  if (!run) run = entry.run = compileFlag(entry.flag, index);
  return run(context, options);
}

const disabledVariant = (featureEnabled: boolean): Variant => ({
  name: "disabled",
  enabled: false,
  featureEnabled,
});

function variantOf(
  entry: FlagEntry,
  index: IndexedState,
  context: FlagContext,
  options: EvaluationOptions,
): Variant {
  const result = evaluateFlag(entry, index, context, options);
  if (!result.enabled) return disabledVariant(false);
  if (result.strategyVariant) return withPayload(result.strategyVariant);
  const flag = entry.flag;
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
  options: EvaluationOptions = NO_OPTIONS,
): Evaluation {
  const index = indexed(state);
  const entry = index.flags.get(name);
  return entry ? evaluateFlag(entry, index, context, options) : OFF;
}

/** Whether a flag is on for a context. An unknown flag, or one whose strategies are all unknown, is off. */
export function isEnabled(
  state: FlagState,
  name: string,
  context: FlagContext = {},
  options: EvaluationOptions = NO_OPTIONS,
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
  options: EvaluationOptions = NO_OPTIONS,
): Variant {
  const index = indexed(state);
  const entry = index.flags.get(name);
  return entry ? variantOf(entry, index, context, options) : disabledVariant(false);
}
