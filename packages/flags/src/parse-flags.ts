import { FlagDefinitionError } from "./flag-definition-error.js";
import { type Flag, type FlagState, flagSchema, flagStateSchema } from "./flag-schema.js";

/** Validates one flag definition; throws FlagDefinitionError naming each bad field. */
export function parseFlag(input: unknown): Flag {
  const result = flagSchema.safeParse(input);
  if (!result.success) {
    const label =
      typeof (input as { name?: unknown })?.name === "string" ? `flag ${(input as Flag).name}` : "flag";
    throw FlagDefinitionError.fromZod(label, result.error);
  }
  return result.data;
}

/** Validates a whole state (flags and segments, segment references included). */
export function parseFlagState(input: unknown): FlagState {
  const result = flagStateSchema.safeParse(input);
  if (!result.success) throw FlagDefinitionError.fromZod("flag state", result.error);
  return result.data;
}
