import { z } from "zod";
import { checkRe2 } from "./re2-regex.js";

/**
 * Baton's flag model, which is Unleash's (the payload of `GET /api/client/features`), so that a state
 * from an Unleash server, and Unleash's exports, validate as they are. Objects keep fields we do not
 * evaluate (project, type, stale, ...): a flag stored and served again loses nothing.
 */

export const OPERATORS = [
  "IN",
  "NOT_IN",
  "STR_CONTAINS",
  "STR_STARTS_WITH",
  "STR_ENDS_WITH",
  "NUM_EQ",
  "NUM_GT",
  "NUM_GTE",
  "NUM_LT",
  "NUM_LTE",
  "DATE_AFTER",
  "DATE_BEFORE",
  "SEMVER_EQ",
  "SEMVER_GT",
  "SEMVER_GTE",
  "SEMVER_LT",
  "SEMVER_LTE",
  "REGEX",
  "IN_CIDR",
] as const;

/** Operators that compare against one `value`; the others take a list of `values`. */
const SINGLE_VALUE_OPERATORS = new Set<string>([
  "NUM_EQ",
  "NUM_GT",
  "NUM_GTE",
  "NUM_LT",
  "NUM_LTE",
  "DATE_AFTER",
  "DATE_BEFORE",
  "SEMVER_EQ",
  "SEMVER_GT",
  "SEMVER_GTE",
  "SEMVER_LT",
  "SEMVER_LTE",
  "REGEX",
]);

const name = z.string().min(1, "must not be empty");

export const constraintSchema = z
  .looseObject({
    contextName: name,
    operator: z.enum(OPERATORS),
    values: z.array(z.string()).optional(),
    value: z.string().optional(),
    inverted: z.boolean().optional(),
    caseInsensitive: z.boolean().optional(),
  })
  .superRefine((constraint, ctx) => {
    if (!SINGLE_VALUE_OPERATORS.has(constraint.operator)) return;
    if (constraint.value === undefined) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `${constraint.operator} needs a value` });
      return;
    }
    const value = constraint.value;
    const numeric = constraint.operator.startsWith("NUM_");
    if (numeric && (value.trim() === "" || Number.isNaN(Number(value)))) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `not a number: ${JSON.stringify(value)}` });
    }
    if (constraint.operator.startsWith("DATE_") && Number.isNaN(new Date(value).getTime())) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `not a date: ${JSON.stringify(value)}` });
    }
    if (constraint.operator === "REGEX") {
      try {
        checkRe2(value, constraint.caseInsensitive === true);
      } catch (error) {
        ctx.addIssue({ code: "custom", path: ["value"], message: (error as Error).message });
      }
    }
  });

export const payloadSchema = z.looseObject({
  type: z.string().min(1, "must not be empty"),
  value: z.string(),
});

export const overrideSchema = z.looseObject({
  contextName: name,
  values: z.array(z.string()),
});

export const variantSchema = z.looseObject({
  name,
  weight: z.number().int().min(0),
  weightType: z.string().optional(),
  stickiness: z.string().optional(),
  payload: payloadSchema.optional(),
  overrides: z.array(overrideSchema).optional(),
});

/**
 * A number from 0 to 100, as Unleash writes it (usually a string: `"rollout": "50"`). A string must
 * be plain decimal digits: JavaScript's Number() also reads "0x10" (16) or "1e1" (10), which SDKs
 * in other languages read differently or not at all, so one flag would answer differently in each.
 */
const percentage = z
  .union([z.string().regex(/^\s*\d{1,3}(\.\d{1,20})?\s*$/), z.number()])
  .refine((value) => Number(value) >= 0 && Number(value) <= 100, {
    message: "must be a number from 0 to 100",
  });

const PERCENTAGE_PARAMETER: Record<string, string> = {
  flexibleRollout: "rollout",
  gradualRolloutUserId: "percentage",
  gradualRolloutSessionId: "percentage",
  gradualRolloutRandom: "percentage",
};

export const strategySchema = z
  .looseObject({
    name,
    parameters: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    constraints: z.array(constraintSchema).optional(),
    segments: z.array(z.number().int()).optional(),
    variants: z.array(variantSchema).optional(),
  })
  .superRefine((strategy, ctx) => {
    const parameter = PERCENTAGE_PARAMETER[strategy.name];
    if (!parameter) return;
    const result = percentage.safeParse(strategy.parameters?.[parameter]);
    if (!result.success) {
      ctx.addIssue({
        code: "custom",
        path: ["parameters", parameter],
        message: `${strategy.name} needs ${parameter} from 0 to 100`,
      });
    }
  });

export const dependencySchema = z.looseObject({
  feature: name,
  enabled: z.boolean().optional(),
  variants: z.array(z.string()).optional(),
});

/** One flag (Unleash: a feature toggle). */
export const flagSchema = z.looseObject({
  name,
  enabled: z.boolean(),
  strategies: z.array(strategySchema),
  variants: z.array(variantSchema).optional(),
  dependencies: z.array(dependencySchema).optional(),
  impressionData: z.boolean().optional(),
});

export const segmentSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().optional(),
  constraints: z.array(constraintSchema),
});

/** Every flag and segment, as `GET /api/client/features` returns them. */
export const flagStateSchema = z
  .looseObject({
    version: z.number().optional(),
    features: z.array(flagSchema),
    segments: z.array(segmentSchema).optional(),
  })
  .superRefine((state, ctx) => {
    const names = new Set<string>();
    state.features.forEach((flag, index) => {
      if (names.has(flag.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["features", index, "name"],
          message: `duplicate flag ${flag.name}`,
        });
      }
      names.add(flag.name);
    });
    const segmentIds = new Set((state.segments ?? []).map((segment) => segment.id));
    state.features.forEach((flag, index) => {
      flag.strategies.forEach((strategy, strategyIndex) => {
        strategy.segments?.forEach((id, segmentIndex) => {
          if (segmentIds.has(id)) return;
          ctx.addIssue({
            code: "custom",
            path: ["features", index, "strategies", strategyIndex, "segments", segmentIndex],
            message: `no segment with id ${id}`,
          });
        });
      });
    });
  });

export type Constraint = z.infer<typeof constraintSchema>;
export type Operator = (typeof OPERATORS)[number];
export type VariantPayload = z.infer<typeof payloadSchema>;
export type VariantOverride = z.infer<typeof overrideSchema>;
export type VariantDefinition = z.infer<typeof variantSchema>;
export type Strategy = z.infer<typeof strategySchema>;
export type Dependency = z.infer<typeof dependencySchema>;
export type Flag = z.infer<typeof flagSchema>;
export type Segment = z.infer<typeof segmentSchema>;
export type FlagState = z.infer<typeof flagStateSchema>;
