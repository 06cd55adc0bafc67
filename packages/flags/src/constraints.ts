import { contextValue, type FlagContext } from "./flag-context.js";
import type { Constraint } from "./flag-schema.js";
import { isInRange, isSameAddress, parseIp, parseIpv4, parseIpv6 } from "./ip-range.js";
import { compileRe2 } from "./re2-regex.js";
import { compareSemver, parseSemver } from "./semver.js";

type OperatorCheck = (constraint: Constraint, context: FlagContext) => boolean;

// Unleash ignores empty values and surrounding spaces in a constraint's list.
const cleanValues = (values: readonly string[] | undefined): string[] =>
  (values ?? []).filter((value) => !!value).map((value) => value.trim());

const inList: OperatorCheck = (constraint, context) => {
  const value = contextValue(context, constraint.contextName);
  const found = cleanValues(constraint.values).some((candidate) => candidate === value);
  return constraint.operator === "IN" ? found : !found;
};

const stringMatch: OperatorCheck = (constraint, context) => {
  let values = cleanValues(constraint.values);
  let value = contextValue(context, constraint.contextName);
  if (typeof value !== "string") return false;
  if (constraint.caseInsensitive) {
    // unleash-client lowercases with the process's locale; so do we, to agree with it everywhere.
    values = values.map((candidate) => candidate.toLocaleLowerCase());
    value = value.toLocaleLowerCase();
  }
  const subject = value;
  switch (constraint.operator) {
    case "STR_STARTS_WITH":
      return values.some((candidate) => subject.startsWith(candidate));
    case "STR_ENDS_WITH":
      return values.some((candidate) => subject.endsWith(candidate));
    default:
      return values.some((candidate) => subject.includes(candidate));
  }
};

const numberCompare: OperatorCheck = (constraint, context) => {
  const target = Number(constraint.value);
  const value = Number(contextValue(context, constraint.contextName));
  if (Number.isNaN(target) || Number.isNaN(value)) return false;
  switch (constraint.operator) {
    case "NUM_EQ":
      return value === target;
    case "NUM_GT":
      return value > target;
    case "NUM_GTE":
      return value >= target;
    case "NUM_LT":
      return value < target;
    default:
      return value <= target;
  }
};

// Dates compare the context's currentTime, whatever contextName says, as in Unleash.
const dateCompare: OperatorCheck = (constraint, context) => {
  const target = new Date(constraint.value ?? Number.NaN);
  const now = context.currentTime ? new Date(context.currentTime) : new Date();
  return constraint.operator === "DATE_AFTER" ? now > target : now < target;
};

const semverCompare: OperatorCheck = (constraint, context) => {
  const raw = contextValue(context, constraint.contextName);
  // A context version may not start with "v" (the constraint's own value may).
  if (!raw || raw.startsWith("v")) return false;
  const value = parseSemver(raw);
  const target = parseSemver(constraint.value);
  if (!value || !target) return false;
  const order = compareSemver(value, target);
  switch (constraint.operator) {
    case "SEMVER_EQ":
      return order === 0;
    case "SEMVER_GT":
      return order > 0;
    case "SEMVER_GTE":
      return order >= 0;
    case "SEMVER_LT":
      return order < 0;
    default:
      return order <= 0;
  }
};

const REGEX_CACHE_LIMIT = 1000;
const regexCache = new Map<string, RegExp | null>();

function cachedRegex(pattern: string, caseInsensitive: boolean): RegExp | null {
  const key = `${caseInsensitive ? 1 : 0}:${pattern}`;
  let regex = regexCache.get(key);
  if (regex === undefined) {
    try {
      regex = compileRe2(pattern, caseInsensitive);
    } catch {
      regex = null;
    }
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    regexCache.set(key, regex);
  }
  return regex;
}

const regexMatch: OperatorCheck = (constraint, context) => {
  const value = contextValue(context, constraint.contextName);
  if (typeof value !== "string" || typeof constraint.value !== "string") return false;
  const regex = cachedRegex(constraint.value, constraint.caseInsensitive === true);
  return regex?.test(value) === true;
};

const inCidr: OperatorCheck = (constraint, context) => {
  const value = contextValue(context, constraint.contextName);
  if (typeof value !== "string") return false;
  const address = parseIp(value);
  if (!address) return false;
  const parse = address.family === 4 ? parseIpv4 : parseIpv6;
  return cleanValues(constraint.values).some((candidate) => {
    const range = parse(candidate);
    return range !== undefined && (isSameAddress(address, range) || isInRange(address, range));
  });
};

const OPERATORS: Record<string, OperatorCheck> = {
  IN: inList,
  NOT_IN: inList,
  STR_CONTAINS: stringMatch,
  STR_STARTS_WITH: stringMatch,
  STR_ENDS_WITH: stringMatch,
  NUM_EQ: numberCompare,
  NUM_GT: numberCompare,
  NUM_GTE: numberCompare,
  NUM_LT: numberCompare,
  NUM_LTE: numberCompare,
  DATE_AFTER: dateCompare,
  DATE_BEFORE: dateCompare,
  SEMVER_EQ: semverCompare,
  SEMVER_GT: semverCompare,
  SEMVER_GTE: semverCompare,
  SEMVER_LT: semverCompare,
  SEMVER_LTE: semverCompare,
  REGEX: regexMatch,
  IN_CIDR: inCidr,
};

/** One constraint; an operator we do not know never matches, inverted or not (as in Unleash). */
export function matchesConstraint(constraint: Constraint, context: FlagContext): boolean {
  const check = Object.hasOwn(OPERATORS, constraint.operator) ? OPERATORS[constraint.operator] : undefined;
  if (!check) return false;
  return constraint.inverted ? !check(constraint, context) : check(constraint, context);
}

/** Every constraint; `undefined` stands for a segment the state does not have, which fails. */
export function matchesConstraints(
  constraints: Iterable<Constraint | undefined>,
  context: FlagContext,
): boolean {
  for (const constraint of constraints) {
    if (!constraint || !matchesConstraint(constraint, context)) return false;
  }
  return true;
}
