import { type Flag, FlagDefinitionError, parseFlag, parseFlagState, type Segment } from "@baton/flags";
import { badRequest } from "../api-input.js";

/** Unleash's rule for names, which are in URLs: letters, digits, `-`, `_`, `.`, `~`. */
export const FLAG_NAME = /^[A-Za-z0-9_.~-]{1,100}$/;
export const FLAG_NAME_RULE = "must be 1-100 letters, digits, '-', '_', '.' or '~'";
/**
 * Paths under /v1/flags/ that are not flags; and `.` and `..`, which HTTP clients (fetch, browsers,
 * curl) resolve away before sending: such a flag could be made, never read, changed or deleted.
 */
export const RESERVED_FLAG_NAMES = new Set([
  "tokens",
  "apply",
  "export",
  "schedule",
  "stale",
  "segments",
  ".",
  "..",
]);

/** A flag name's problem, if it has one. */
export function flagNameProblem(name: string): string | undefined {
  if (!FLAG_NAME.test(name)) return FLAG_NAME_RULE;
  if (name === "." || name === "..")
    return `${name} cannot be a flag name (URLs drop it: the flag could not be read, changed or deleted)`;
  if (RESERVED_FLAG_NAMES.has(name)) return `${name} is reserved (it is a path of the API)`;
  // SDKs report counts in JSON objects keyed by flag name, and a `__proto__` key gets a whole
  // report refused (by this API's JSON parser, as by most): the flag would cost its apps every count.
  if (name === "__proto__")
    return "__proto__ is reserved (it cannot be a key of the JSON objects SDKs report)";
  return undefined;
}

/** One flag definition checked with @baton/flags's schema; a bad one is a 400 naming the field. */
export function checkFlag(input: unknown): Flag {
  let flag: Flag;
  try {
    flag = parseFlag(input);
  } catch (err) {
    if (!(err instanceof FlagDefinitionError)) throw err;
    const path = err.issues[0]!.path;
    throw badRequest(path === "(root)" ? "body" : path, err.message);
  }
  const problem = flagNameProblem(flag.name);
  if (problem) throw badRequest("name", `name: ${problem}`);
  return flag;
}

/**
 * Many flags and segments checked together (`baton flags apply`), segment references against
 * `stored` and the segments given: the error names the flag and the field.
 */
export function checkFlags(
  flags: readonly unknown[],
  segments: readonly unknown[],
  stored: readonly Segment[],
): { flags: Flag[]; segments: Segment[] } {
  const given = new Set(
    segments.map((s) => (s as { id?: unknown })?.id).filter((id): id is number => typeof id === "number"),
  );
  try {
    const state = parseFlagState({
      features: flags,
      segments: [...segments, ...stored.filter((s) => !given.has(s.id))],
    });
    const checked = state.features.map((flag, i) => {
      const problem = flagNameProblem(flag.name);
      if (problem) throw badRequest(`flags[${i}].name`, `flags[${i}].name (${flag.name}): ${problem}`);
      return flag;
    });
    return { flags: checked, segments: (state.segments ?? []).filter((s) => given.has(s.id)) };
  } catch (err) {
    if (!(err instanceof FlagDefinitionError)) throw err;
    const issue = err.issues[0]!;
    const path = issue.path.replace(/^features/, "flags");
    const index = /^flags\[(\d+)\]/.exec(path)?.[1];
    const name = index !== undefined ? (flags[Number(index)] as { name?: unknown })?.name : undefined;
    const which = typeof name === "string" ? ` (flag ${name})` : "";
    throw badRequest(path, `${path}${which}: ${issue.message}`);
  }
}
