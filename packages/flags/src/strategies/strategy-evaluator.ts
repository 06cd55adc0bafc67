import type { EvaluationOptions, FlagContext } from "../flag-context.js";

export type StrategyParameters = Readonly<Record<string, string | number | undefined>>;

/** Whether a strategy's own rule (constraints and segments aside) holds for a context. */
export type StrategyEvaluator = (
  parameters: StrategyParameters,
  context: FlagContext,
  options: EvaluationOptions,
) => boolean;

/** Unleash's lists (`userIds`, `IPs`, `hostNames`) are comma-separated, spaces around commas ignored. */
export const splitList = (list: string | number): string[] => String(list).split(/\s*,\s*/);

/** A strategy's rule compiled for one definition's parameters. */
export type StrategyRule = (context: FlagContext, options: EvaluationOptions) => boolean;

/** Compiles a strategy's parameters; undefined when they are unusual (the evaluator then runs as is). */
export type StrategyCompiler = (parameters: StrategyParameters) => StrategyRule | undefined;

/** A parameter value the compilers read ahead of time: what the schema admits, or absent. */
export const isScalar = (value: unknown): value is string | number | undefined =>
  value === undefined || typeof value === "string" || typeof value === "number";
