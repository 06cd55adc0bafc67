export { applyDelta, type DeltaEvent } from "./apply-delta.js";
export {
  createFlagClient,
  type FlagClient,
  type FlagClientEvents,
  type FlagClientOptions,
} from "./client/create-flag-client.js";
export {
  latencyBucket,
  type OutcomePayload,
  type OutcomeSide,
  twoDigitBucket,
} from "./client/outcome-bucket.js";
export { fastifyFlagOutcomes, flagOutcomes, withFlagOutcomes } from "./client/outcome-middleware.js";
export type { ReconnectDelayOptions } from "./client/reconnect-delay.js";
export { type Evaluation, evaluate, getVariant, isEnabled, type Variant } from "./evaluate.js";
export type { EvaluationOptions, FlagContext } from "./flag-context.js";
export { FlagDefinitionError } from "./flag-definition-error.js";
export {
  type Constraint,
  constraintSchema,
  type Dependency,
  type Flag,
  type FlagState,
  flagSchema,
  flagStateSchema,
  OPERATORS,
  type Operator,
  type Segment,
  type Strategy,
  segmentSchema,
  strategySchema,
  type VariantDefinition,
  type VariantOverride,
  type VariantPayload,
  variantSchema,
} from "./flag-schema.js";
export { murmur3 } from "./murmur3.js";
export { normalizedValue } from "./normalized-value.js";
export { BatonFlagProvider } from "./openfeature/baton-flag-provider.js";
export { parseFlag, parseFlagState } from "./parse-flags.js";
