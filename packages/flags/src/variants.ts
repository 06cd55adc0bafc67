import { contextValue, type FlagContext } from "./flag-context.js";
import type { VariantDefinition } from "./flag-schema.js";
import { normalizedValue, VARIANT_SEED } from "./normalized-value.js";

// Default stickiness for variants also falls back to remoteAddress, unlike a rollout's.
const DEFAULT_STICKINESS_FIELDS = ["userId", "sessionId", "remoteAddress"] as const;

/** unleash-client's random seed when no stickiness field is present: 0 to 100000. */
const randomSeed = (random: () => number): string => String(Math.round(random() * 100000));

function stickinessSeed(context: FlagContext, stickiness: string, random: () => number): string {
  if (stickiness !== "default") return contextValue(context, stickiness) || randomSeed(random);
  for (const field of DEFAULT_STICKINESS_FIELDS) {
    const value = context[field];
    if (typeof value === "string" && value !== "") return value;
  }
  return randomSeed(random);
}

function overrideFor(
  variants: readonly VariantDefinition[],
  context: FlagContext,
): VariantDefinition | undefined {
  return variants.find((variant) =>
    variant.overrides?.some((override) =>
      override.values.some((value) => value === contextValue(context, override.contextName)),
    ),
  );
}

/**
 * The variant a context gets: the first whose overrides name it, else a weighted pick by the hash of
 * its stickiness value within `groupId`. None when the weights add up to nothing.
 */
export function selectVariant(
  groupId: string | undefined,
  stickiness: string | undefined,
  variants: readonly VariantDefinition[],
  context: FlagContext,
  random: () => number = Math.random,
): VariantDefinition | undefined {
  const totalWeight = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (totalWeight <= 0) return undefined;
  const override = overrideFor(variants, context);
  if (override) return override;
  const seed = stickinessSeed(context, stickiness || "default", random);
  const target = normalizedValue(seed, groupId, totalWeight, VARIANT_SEED);
  let counter = 0;
  return variants.find((variant) => {
    if (variant.weight === 0) return false;
    counter += variant.weight;
    return counter >= target;
  });
}
