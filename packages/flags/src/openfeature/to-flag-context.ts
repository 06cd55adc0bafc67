import type { EvaluationContext } from "@openfeature/server-sdk";
import type { FlagContext } from "../flag-context.js";

// Unleash's own context fields; everything else is a custom field, which Unleash keeps in `properties`.
const TOP_LEVEL = new Set(["userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime"]);

/**
 * An OpenFeature evaluation context as Unleash's: `targetingKey` is the `userId` (an explicit `userId`
 * wins), Unleash's fields stay where they are, other fields become properties (dates as ISO text;
 * structures, which no constraint can compare, are left out).
 */
export function toFlagContext(context: EvaluationContext): FlagContext {
  const result: FlagContext = {};
  const properties: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(context)) {
    if (key === "targetingKey" || value === undefined || value === null) continue;
    const scalar = value instanceof Date ? value.toISOString() : value;
    if (typeof scalar === "object") continue;
    if (TOP_LEVEL.has(key)) result[key] = typeof scalar === "string" ? scalar : String(scalar);
    else properties[key] = typeof scalar === "number" ? scalar : String(scalar);
  }
  if (result.userId === undefined && typeof context.targetingKey === "string") {
    result.userId = context.targetingKey;
  }
  if (Object.keys(properties).length > 0) result.properties = properties;
  return result;
}
