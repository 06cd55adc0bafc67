/** One difference between the old store's answer and the new one's, at a JSON path ("$.data.theme"). */
export interface ValueDifference {
  path: string;
  old: unknown;
  new: unknown;
}

/** JSON with object keys sorted, so that equal values give equal text whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sorted(value)) ?? "undefined";
}

function sorted(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(sorted);
  if (value instanceof Date) return value.toJSON();
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sorted(v);
  }
  return out;
}

/**
 * Where two values differ, as JSON sees them (a Date equals its ISO text; an undefined property
 * equals a missing one), at most `limit` differences, deepest paths first found.
 */
export function diffValues(oldValue: unknown, newValue: unknown, limit = 10): ValueDifference[] {
  const out: ValueDifference[] = [];
  walk(sorted(oldValue), sorted(newValue), "$", out, limit);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: ValueDifference[], limit: number): void {
  if (out.length >= limit) return;
  const objects = a !== null && b !== null && typeof a === "object" && typeof b === "object";
  if (objects && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const key of keys) {
      const child = Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`;
      walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], child, out, limit);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, old: a, new: b });
}
