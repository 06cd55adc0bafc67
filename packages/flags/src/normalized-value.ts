import { murmur3 } from "./murmur3.js";

/** Unleash's seeds: strategies bucket with 0, variants with 86028157, so the two are independent. */
export const STRATEGY_SEED = 0;
export const VARIANT_SEED = 86028157;

/**
 * Unleash's bucket of `id` within `groupId`: 1..normalizer. Both are interpolated as written, so an
 * absent groupId hashes as "undefined", as unleash-client does.
 */
export function normalizedValue(
  id: unknown,
  groupId: unknown,
  normalizer = 100,
  seed: number = STRATEGY_SEED,
): number {
  return (murmur3(`${groupId}:${id}`, seed) % normalizer) + 1;
}
