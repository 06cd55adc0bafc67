import { contextValue, type FlagContext, fieldReader } from "./flag-context.js";
import type { Constraint } from "./flag-schema.js";
import { isInRange, isSameAddress, parseIp, parseIpv4, parseIpv6 } from "./ip-range.js";
import { compileRe2 } from "./re2-regex.js";
import { compareSemver, parseSemver, type SemVer } from "./semver.js";

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
  return compareNumbers(constraint.operator, value, target);
};

/** A NUM_* operator's answer for two numbers (neither NaN). */
function compareNumbers(operator: string, value: number, target: number): boolean {
  switch (operator) {
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
}

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

/** A constraint compiled for one definition: inversion included, as `matchesConstraint` answers. */
export type ConstraintCheck = (context: FlagContext) => boolean;

const NEVER: ConstraintCheck = () => false;
const MEMO_LIMIT = 1000;

const isStringList = (values: unknown): values is string[] | undefined =>
  values === undefined || (Array.isArray(values) && values.every((value) => typeof value === "string"));

/**
 * `matchesConstraint(constraint, context)` as a function of the context, its lists, numbers, dates,
 * versions, patterns and ranges read once. A constraint of an unusual shape (not what the schema
 * admits) is left to `matchesConstraint` itself, so that it answers (or throws) exactly as before.
 */
export function compileConstraint(constraint: Constraint | undefined): ConstraintCheck {
  // A missing segment, or a hole in a list: fails.
  if (!constraint) return NEVER;
  const generic: ConstraintCheck = (context) => matchesConstraint(constraint, context);
  if (typeof constraint !== "object") return generic;
  const { operator, contextName, inverted } = constraint;
  if (typeof operator !== "string" || typeof contextName !== "string") return generic;
  if (!Object.hasOwn(OPERATORS, operator)) return NEVER;
  const check = compileCheck(constraint, operator, contextName);
  if (!check) return generic;
  return inverted ? (context) => !check(context) : check;
}

function compileCheck(constraint: Constraint, operator: string, field: string): ConstraintCheck | undefined {
  const read = fieldReader(field);
  switch (operator) {
    case "IN":
    case "NOT_IN": {
      if (!isStringList(constraint.values)) return undefined;
      const values = new Set(cleanValues(constraint.values));
      return operator === "IN"
        ? (context) => {
            const value = read(context);
            return value !== undefined && values.has(value);
          }
        : (context) => {
            const value = read(context);
            return value === undefined || !values.has(value);
          };
    }
    case "STR_CONTAINS":
    case "STR_STARTS_WITH":
    case "STR_ENDS_WITH": {
      if (!isStringList(constraint.values)) return undefined;
      const caseInsensitive = !!constraint.caseInsensitive;
      const values = cleanValues(constraint.values).map((v) => (caseInsensitive ? v.toLocaleLowerCase() : v));
      return (context) => {
        let value = read(context);
        if (value === undefined) return false;
        if (caseInsensitive) value = value.toLocaleLowerCase();
        for (const candidate of values) {
          if (
            operator === "STR_STARTS_WITH"
              ? value.startsWith(candidate)
              : operator === "STR_ENDS_WITH"
                ? value.endsWith(candidate)
                : value.includes(candidate)
          )
            return true;
        }
        return false;
      };
    }
    case "NUM_EQ":
    case "NUM_GT":
    case "NUM_GTE":
    case "NUM_LT":
    case "NUM_LTE": {
      const target = Number(constraint.value);
      if (Number.isNaN(target)) return NEVER;
      return (context) => {
        const raw = context[field] ?? context.properties?.[field];
        if (raw === undefined || raw === null) return false;
        // String(n) read back as a number is n itself.
        const value = typeof raw === "number" ? raw : Number(String(raw));
        if (Number.isNaN(value)) return false;
        return compareNumbers(operator, value, target);
      };
    }
    case "DATE_AFTER":
    case "DATE_BEFORE": {
      const target = new Date(constraint.value ?? Number.NaN).getTime();
      const after = operator === "DATE_AFTER";
      return (context) => {
        const now = context.currentTime ? new Date(context.currentTime).getTime() : Date.now();
        return after ? now > target : now < target;
      };
    }
    case "SEMVER_EQ":
    case "SEMVER_GT":
    case "SEMVER_GTE":
    case "SEMVER_LT":
    case "SEMVER_LTE": {
      const target = parseSemver(constraint.value);
      if (!target) return NEVER;
      // A version's answer depends on its text alone: remembered (apps run few versions).
      const answers = new Map<string, boolean>();
      return (context) => {
        const raw = read(context);
        if (!raw) return false;
        let answer = answers.get(raw);
        if (answer === undefined) {
          answer = semverAnswer(operator, raw, target);
          if (answers.size >= MEMO_LIMIT) answers.clear();
          answers.set(raw, answer);
        }
        return answer;
      };
    }
    case "REGEX": {
      if (typeof constraint.value !== "string") return NEVER;
      const regex = cachedRegex(constraint.value, constraint.caseInsensitive === true);
      if (!regex) return NEVER;
      return (context) => {
        const value = read(context);
        return value !== undefined && regex.test(value);
      };
    }
    case "IN_CIDR": {
      if (!isStringList(constraint.values)) return undefined;
      const candidates = cleanValues(constraint.values);
      const v4 = candidates.map(parseIpv4);
      const v6 = candidates.map(parseIpv6);
      return (context) => {
        const value = read(context);
        if (value === undefined) return false;
        const address = parseIp(value);
        if (!address) return false;
        const ranges = address.family === 4 ? v4 : v6;
        for (const range of ranges) {
          if (range !== undefined && (isSameAddress(address, range) || isInRange(address, range)))
            return true;
        }
        return false;
      };
    }
    default:
      return undefined;
  }
}

function semverAnswer(operator: string, raw: string, target: SemVer): boolean {
  // A context version may not start with "v" (the constraint's own value may).
  if (raw.startsWith("v")) return false;
  const value = parseSemver(raw);
  if (!value) return false;
  const order = compareSemver(value, target);
  switch (operator) {
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
}
