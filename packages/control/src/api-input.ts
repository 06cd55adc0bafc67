import { isAbsolute } from "node:path";
import { z } from "zod";
import { BatonControlError } from "./errors.js";

/**
 * What the control plane's HTTP API accepts, parsed at the edge: every body, query string and path
 * parameter goes through one of these schemas before anything else sees it, so a bad value is a 400 naming the
 * field (code BATON_BAD_REQUEST), never a 500 from deeper down (a NUL byte reaching spawn(), a
 * 20-digit id reaching PostgreSQL). Unknown fields are refused by name: a typo must not be ignored.
 */

/** C0 control characters and DEL: they forge lines in logs and terminals. */
const hasControl = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\u007f");

/**
 * A version name ends up in file names (instance logs), environment values and the router's
 * table: letters, digits, '.', '_', '-'; never '.' or '..' or a leading '.'.
 */
export const versionName = z
  .string({ error: "must be a string" })
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/,
    "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'",
  );

/** An environment variable's name as POSIX shells accept it (and not `__proto__`). */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, "names must be letters, digits and '_', not starting with a digit")
  .refine((k) => k !== "__proto__", "__proto__ is not accepted as a name");

const envValue = z
  .string({ error: "values must be strings" })
  .max(32_768, "values are at most 32768 characters")
  .refine((v) => !v.includes("\u0000"), "values must not contain a NUL byte");

/** Who asked, as the audit log keeps it. */
const actor = z
  .string({ error: "must be a string" })
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .refine((a) => !hasControl(a), "must not contain control characters")
  .describe('who asked, as the audit log keeps it (default "api")');

export const deployBody = z
  .strictObject(
    {
      version: versionName
        .describe("default: a digest of dir's files; alone: released again from where it last was")
        .optional(),
      dir: z
        .string({ error: "must be a string" })
        .max(4096, "must be at most 4096 characters")
        .refine((d) => !d.includes("\u0000"), "must not contain a NUL byte")
        .refine(isAbsolute, "must be the absolute path of the release's directory")
        .describe("the release's directory on the control plane's machine (absolute)")
        .optional(),
      strategy: z
        .enum(["rolling", "blue-green", "canary"], { error: "must be rolling, blue-green or canary" })
        .describe("default: baton.yaml's")
        .optional(),
      env: z
        .record(envName, envValue, { error: 'must be an object of NAME: "value" strings' })
        .refine((e) => Object.keys(e).length <= 256, "at most 256 variables")
        .describe("the environment of the new version's instances")
        .optional(),
      instances: z
        .array(
          z
            .string({ error: "must be host:port strings" })
            .regex(/^[A-Za-z0-9._-]{1,253}:\d{1,5}$/, "must be host:port addresses")
            .refine((a) => {
              const port = Number(a.slice(a.lastIndexOf(":") + 1));
              return port >= 1 && port <= 65_535;
            }, "ports must be 1-65535"),
          { error: "must be a list of host:port addresses" },
        )
        .max(1000, "at most 1000 instances")
        .describe("static provider: the new version's instances")
        .optional(),
      actor: actor.optional(),
    },
    { error: "the body must be a JSON object" },
  )
  .refine((b) => b.version !== undefined || b.dir !== undefined, {
    error: "give a version, a dir, or both",
  });
export type DeployBody = z.infer<typeof deployBody>;

/** promote, abort: only who asked. */
export const actorBody = z.strictObject(
  { actor: actor.optional() },
  { error: "the body must be a JSON object" },
);

/** rollback: who asked, and how to restart the previous version when it is no longer warm. */
export const rollbackBody = z.strictObject(
  {
    actor: actor.optional(),
    strategy: z
      .enum(["immediate", "canary", "rolling", "blue-green"])
      .describe("used only when the previous version is no longer warm (default: immediate, all at once)")
      .optional(),
  },
  { error: "the body must be a JSON object" },
);

const count = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, `must be a whole number from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `must be a whole number from 1 to ${max}`)
    .default(fallback)
    .describe(`a whole number from 1 to ${max} (default ${fallback})`);

export const releasesQuery = z.strictObject({ limit: count(1000, 20) });
export const releaseQuery = z.strictObject({
  wait: z
    .enum(["0", "1"], { error: "must be 1 (wait for the release to end) or 0" })
    .describe("1: answer once the release has ended (a long poll)")
    .optional(),
});
export const logsQuery = z.strictObject({
  version: versionName.describe("only this version's instances").optional(),
  lines: count(10_000, 50),
});
export const emptyQuery = z.strictObject({});

const RELEASE_ID = `must be a release id: a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`;
/** A release id from the path: a positive whole number JavaScript holds exactly. */
export const releasePath = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9]\d{0,15}$/, RELEASE_ID)
    .transform(Number)
    .refine(Number.isSafeInteger, RELEASE_ID)
    .describe("the release's id"),
});

/**
 * The query string (what follows the first `?` of the request target) as an object: a parameter
 * given twice is refused rather than guessed at; `__proto__` stays an own key, to be refused by
 * name like any other unknown one.
 */
export function queryObject(target: string): Record<string, string> {
  const at = target.indexOf("?");
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(at < 0 ? "" : target.slice(at + 1))) {
    if (Object.hasOwn(out, k)) throw badRequest(k, `query parameter ${k} is given more than once`);
    out[k] = v;
  }
  return out;
}

/** Parses `input` with `schema`, or throws a 400 naming the first wrong field (or where it is). */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: "body" | "query" | "path",
): z.output<S> {
  // JSON.parse makes "__proto__" an own key, which a parsed object then drops without a word.
  const proto = protoPath(input, where);
  if (proto) return fail(proto, `${proto}: "__proto__" is not accepted as a name`);
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => JSON.stringify(k)).join(", ");
    const field = [...issue.path, issue.keys[0]!].join(".");
    const what = `${where === "body" ? "field" : "parameter"}${issue.keys.length > 1 ? "s" : ""}`;
    // The top-level schema's own keys, to point at the intended one after a typo.
    const known = issue.path.length === 0 ? Object.keys((schema as { shape?: object }).shape ?? {}) : [];
    const accepted = known.length ? ` (accepted: ${known.join(", ")})` : " (none accepted here)";
    return fail(field, `unknown ${what} ${names}${issue.path.length === 0 ? accepted : ""}`);
  }
  if (issue.code === "invalid_key") {
    // A record's key (an env name): the field is the record, the message quotes the key escaped.
    const field = issue.path.slice(0, -1).map(String).join(".");
    const key = JSON.stringify(String(issue.path.at(-1)));
    return fail(field, `${field}: ${key} is not accepted: ${issue.issues[0]?.message ?? issue.message}`);
  }
  const field = issue.path.map(String).join(".");
  return fail(field || where, field ? `${field}: ${issue.message}` : issue.message);
}

/** No request of this API nests deeper; a deeper document is refused before anything walks it. */
export const MAX_INPUT_DEPTH = 32;

/**
 * Where in `value` (a parsed JSON document) a "__proto__" key stands, if anywhere; refuses a
 * document nested deeper than MAX_INPUT_DEPTH. Iterative, and each path is built only when it is
 * reported, so no input costs more than one pass over it.
 */
function protoPath(value: unknown, where: string): string | undefined {
  type Node = { value: unknown; key: string; parent: Node | undefined; depth: number };
  const pathOf = (n: Node | undefined) => {
    const keys: string[] = [];
    for (let at = n; at?.parent; at = at.parent) keys.unshift(at.key);
    return keys.join(".") || where;
  };
  const stack: Node[] = [{ value, key: "", parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.value === null || typeof node.value !== "object") continue;
    if (node.depth >= MAX_INPUT_DEPTH) {
      // Named by its top-level field: the full path would be as long as the attack.
      const top = pathOf(node).split(".")[0]!;
      fail(top, `${top}: nested deeper than ${MAX_INPUT_DEPTH} levels`);
    }
    for (const key of Object.keys(node.value)) {
      if (key === "__proto__") return pathOf(node);
      stack.push({
        value: (node.value as Record<string, unknown>)[key],
        key,
        parent: node,
        depth: node.depth + 1,
      });
    }
  }
  return undefined;
}

function fail(field: string, message: string): never {
  throw badRequest(field, message);
}

/** A 400 (BATON_BAD_REQUEST) that names the field at fault. */
export class BadRequestError extends BatonControlError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super("BATON_BAD_REQUEST", message);
  }
}

export function badRequest(field: string, message: string): BadRequestError {
  return new BadRequestError(field, message);
}
