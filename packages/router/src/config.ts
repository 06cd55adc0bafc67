import { readFile } from "node:fs/promises";
import { type Document, isNode, isScalar, LineCounter, parseDocument, visit } from "yaml";
import type { z } from "zod";
import {
  type RouterConfig,
  type RouterConfigInput,
  routerConfigSchema,
  type ServiceConfig,
  serviceSchema,
} from "./config-schema.js";
import { ConfigError, type ConfigIssue } from "./errors.js";

export type {
  RouterConfig,
  RouterConfigInput,
  ServiceConfig,
  ServiceConfigInput,
  Stickiness,
  TrackConfig,
} from "./config-schema.js";

/** `services[0].tracks.canary.weight` from ["services", 0, "tracks", "canary", "weight"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function zodIssues(
  error: z.ZodError,
  locate?: (path: readonly PropertyKey[]) => { line: number; column: number } | undefined,
): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path as PropertyKey[];
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    } else if (issue.code === "invalid_type" && message.includes("received undefined")) {
      message = `missing required key (expected ${issue.expected})`;
    }
    const full =
      issue.code === "unrecognized_keys" && issue.keys.length === 1 ? [...path, issue.keys[0]!] : path;
    return { path: formatPath(full), message, ...locate?.(full) };
  });
}

/** The first key given twice in one mapping, with where it is given again. */
function duplicateKey(doc: Document): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key;
        const text = isScalar(key) ? `${typeof key.value}:${String(key.value)}` : `node:${String(key)}`;
        if (seen.has(text)) {
          found = {
            key: isScalar(key) ? String(key.value) : String(key),
            offset: isNode(key) ? (key.range?.[0] ?? 0) : 0,
          };
          return visit.BREAK;
        }
        seen.add(text);
      }
      return undefined;
    },
  });
  return found;
}

/**
 * Parses YAML (or JSON) text and validates it with `schema`. Throws ConfigError naming each bad
 * key with its file, line and column. Shared by every Baton config file.
 */
export function parseYamlConfig<S extends z.ZodType>(schema: S, text: string, source: string): z.output<S> {
  const lineCounter = new LineCounter();
  // yaml's own uniqueKeys check compares every pair of keys (20,000 keys took 7 s): one Set a map.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length === 0) {
    const duplicate = duplicateKey(doc);
    if (duplicate) {
      const pos = lineCounter.linePos(duplicate.offset);
      throw new ConfigError(source, [
        {
          path: "",
          message: `YAML syntax: map keys must be unique; ${JSON.stringify(duplicate.key)} is given again`,
          line: pos.line,
          column: pos.col,
        },
      ]);
    }
  }
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          path: "",
          message: `YAML syntax: ${e.message.split("\n")[0]!}`,
          line: pos.line,
          column: pos.col,
        };
      }),
    );
  }
  const raw = doc.toJS() ?? {};
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const locate = (path: readonly PropertyKey[]) => {
    // Walk up until a node with a source range exists (a missing key has none; its parent does).
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return undefined;
  };
  throw new ConfigError(source, zodIssues(result.error, locate));
}

/** Parses and validates router YAML (or JSON) text. Throws ConfigError naming each bad key with its line. */
export function parseRouterConfig(text: string, source = "router.yaml"): RouterConfig {
  return parseYamlConfig(routerConfigSchema, text, source);
}

export async function loadRouterConfig(file: string): Promise<{ config: RouterConfig; text: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ path: "", message: `cannot read file: ${(err as Error).message}` }]);
  }
  return { config: parseRouterConfig(text, file), text };
}

/** Validates a router config given as an object (the library entry point). */
export function validateRouterConfig(
  input: RouterConfigInput | RouterConfig,
  source = "config",
): RouterConfig {
  const result = routerConfigSchema.safeParse(configToInput(input));
  if (!result.success) throw new ConfigError(source, zodIssues(result.error));
  return result.data;
}

/** Validates one service entry (the admin API's PUT body). */
export function parseServiceConfig(input: unknown, source = "request body"): ServiceConfig {
  const result = serviceSchema.safeParse(input);
  if (!result.success) throw new ConfigError(source, zodIssues(result.error));
  return result.data;
}

/**
 * Turns an already-validated config back into its input form (addresses as text), so that
 * a parsed config can be validated again, saved to disk or sent over the admin API.
 */
export function serviceToInput(svc: ServiceConfig): Record<string, unknown> {
  return configToInput(svc);
}

/** Any parsed config (or part of one) in its input form: addresses back to "host:port" text. */
export function configToInput(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value, (_k, v) => (isHostPort(v) ? hostPortText(v) : v)));
}

function isHostPort(v: unknown): v is { host: string; port: number } {
  return (
    typeof v === "object" &&
    v !== null &&
    Object.keys(v).length === 2 &&
    typeof (v as { host?: unknown }).host === "string" &&
    typeof (v as { port?: unknown }).port === "number"
  );
}

function hostPortText(v: { host: string; port: number }): string {
  return v.host.includes(":") ? `[${v.host}]:${v.port}` : `${v.host}:${v.port}`;
}
