import { type Flag, FlagDefinitionError, parseFlag, type Segment, segmentSchema } from "@baton/flags";
import { ConfigError, parseYamlConfig } from "@baton/router";
import { z } from "zod";
import { flagNameProblem } from "./check-flag.js";

/** A flag file, read and checked: what `baton flags apply` sends. */
export interface FlagFile {
  /** `list`: a list of flags; `state`: `{features, segments}` (Baton's export, Unleash's client API); `unleash-export`: Unleash's feature export. */
  format: "list" | "state" | "unleash-export";
  flags: Flag[];
  segments: Segment[];
}

/** A flag file that does not check: the message names the file, the flag and the field. */
export class FlagFileError extends Error {
  readonly code = "BATON_BAD_REQUEST";
  constructor(source: string, where: string, message: string) {
    super(`${source}: ${where}: ${message}`);
    this.name = "FlagFileError";
  }
}

/**
 * What the flags of one file may come to as JSON: the control plane's API takes bodies up to 1 MiB,
 * and a small file can expand past it (YAML aliases repeat whole lists).
 */
export const MAX_FLAG_FILE_JSON_BYTES = 1024 * 1024 - 1024;

/**
 * Reads a flag file (YAML or JSON, JSON being YAML) in any of three forms: a list of flags in
 * Baton's model (Unleash's client feature format); `{features, segments}`, as `baton flags export`
 * and Unleash's `/api/client/features` write it; or Unleash's feature export
 * (`{features, featureStrategies, featureEnvironments, segments, dependencies, ...}`, one
 * environment). Every flag is checked; the first bad one is reported with its field.
 */
export function parseFlagFile(text: string, source: string): FlagFile {
  if (text.includes("\u0000"))
    throw new FlagFileError(
      source,
      "(root)",
      "not a text file (it holds NUL bytes; UTF-16? save it as UTF-8)",
    );
  let raw: unknown;
  try {
    // A byte-order mark, as some editors write one, is not part of the YAML.
    raw = parseYamlConfig(z.unknown(), text.replace(/^\uFEFF/, ""), source);
  } catch (err) {
    if (err instanceof ConfigError || !(err instanceof Error)) throw err;
    // What the YAML library refuses while building the document (too many aliases: a "billion laughs").
    throw new FlagFileError(source, "(root)", `YAML: ${err.message}`);
  }
  const file = checkFlagFile(raw, source);
  const bytes = Buffer.byteLength(JSON.stringify({ flags: file.flags, segments: file.segments }));
  if (bytes > MAX_FLAG_FILE_JSON_BYTES)
    throw new FlagFileError(
      source,
      "(root)",
      `its flags come to ${bytes} bytes of JSON (YAML aliases expanded); the control plane takes at most ${MAX_FLAG_FILE_JSON_BYTES}: split it into several files`,
    );
  return file;
}

function checkFlagFile(raw: unknown, source: string): FlagFile {
  let format: FlagFile["format"];
  let flags: unknown[];
  let segments: unknown[];
  if (Array.isArray(raw)) {
    format = "list";
    flags = raw;
    segments = [];
  } else if (raw && typeof raw === "object" && Array.isArray((raw as { features?: unknown }).features)) {
    const doc = raw as Record<string, unknown>;
    const segmentList = doc.segments === undefined ? [] : doc.segments;
    if (!Array.isArray(segmentList)) throw new FlagFileError(source, "segments", "must be a list");
    if (Array.isArray(doc.featureStrategies)) {
      format = "unleash-export";
      flags = fromUnleashExport(doc, source);
    } else {
      format = "state";
      flags = doc.features as unknown[];
    }
    segments = segmentList;
  } else {
    throw new FlagFileError(
      source,
      "(root)",
      "expected a list of flags, {features: [...], segments: [...]}, or Unleash's feature export",
    );
  }
  const names = new Set<string>();
  const checked = flags.map((input, i) => {
    const label = `flags[${i}]${typeof (input as Flag)?.name === "string" ? ` (flag ${(input as Flag).name})` : ""}`;
    let flag: Flag;
    try {
      flag = parseFlag(input);
    } catch (err) {
      if (!(err instanceof FlagDefinitionError)) throw err;
      throw new FlagFileError(source, label, err.issues.map((x) => `${x.path}: ${x.message}`).join("; "));
    }
    const problem = flagNameProblem(flag.name);
    if (problem) throw new FlagFileError(source, label, `name: ${problem}`);
    if (names.has(flag.name)) throw new FlagFileError(source, label, `name: ${flag.name} is given twice`);
    names.add(flag.name);
    return flag;
  });
  const checkedSegments = segments.map((input, i) => {
    const r = segmentSchema.safeParse(input);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    throw new FlagFileError(
      source,
      `segments[${i}]`,
      `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  });
  return { format, flags: checked, segments: checkedSegments };
}

/** Unleash's export: features, with each one's strategies, state and variants in separate lists. */
function fromUnleashExport(doc: Record<string, unknown>, source: string): unknown[] {
  const list = (key: string): Record<string, unknown>[] => {
    const v = doc[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new FlagFileError(source, key, "must be a list");
    return v as Record<string, unknown>[];
  };
  const strategies = list("featureStrategies");
  const environments = list("featureEnvironments");
  const dependencies = list("dependencies");
  return (doc.features as Record<string, unknown>[]).map((feature, i) => {
    const name = feature?.name;
    if (typeof name !== "string") throw new FlagFileError(source, `features[${i}].name`, "must be a string");
    const environment = environments.find((e) => e.featureName === name);
    const own = strategies
      .filter((s) => s.featureName === name && s.disabled !== true)
      .sort((a, b) => Number(a.sortOrder ?? 0) - Number(b.sortOrder ?? 0))
      .map((s) => ({
        name: s.name,
        ...(s.parameters !== undefined ? { parameters: s.parameters } : {}),
        ...(s.constraints !== undefined ? { constraints: s.constraints } : {}),
        ...(Array.isArray(s.segments) && s.segments.length ? { segments: s.segments } : {}),
        ...(Array.isArray(s.variants) && s.variants.length ? { variants: s.variants } : {}),
      }));
    const parents = dependencies.find((d) => d.feature === name)?.dependencies;
    const { archived: _archived, createdAt: _createdAt, lastSeenAt: _lastSeenAt, ...kept } = feature;
    return {
      ...kept,
      // Unleash exports one environment; a feature with no state there is off.
      enabled: environment?.enabled === true,
      strategies: own,
      ...(Array.isArray(environment?.variants) && environment.variants.length
        ? { variants: environment.variants }
        : Array.isArray(feature.variants) && feature.variants.length
          ? { variants: feature.variants }
          : {}),
      ...(Array.isArray(parents) && parents.length ? { dependencies: parents } : {}),
    };
  });
}
