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
