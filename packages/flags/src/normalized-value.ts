import { murmur3, murmur3After, murmur3Prefix } from "./murmur3.js";

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

/**
 * `normalizedValue(id, groupId, normalizer, seed)` for one groupId, as a function of the id: the
 * "groupId:" prefix is hashed once, and no joined string is built per call.
 */
export function bucketWithin(
  groupId: unknown,
  normalizer = 100,
  seed: number = STRATEGY_SEED,
): (id: unknown) => number {
  const prefix = murmur3Prefix(`${groupId}:`, seed);
  return (id) => (murmur3After(prefix, typeof id === "string" ? id : `${id}`) % normalizer) + 1;
}
