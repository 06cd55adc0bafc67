import type { Flag, FlagState, Segment } from "../flag-schema.js";

/**
 * The names of the flags whose answers may differ between two states: added, removed or changed flags,
 * flags using a segment that changed and flags depending on a changed flag. Sorted, so that listeners and tests see a stable order.
 */
export function changedFlags(before: FlagState | undefined, after: FlagState): string[] {
  const oldFlags = new Map((before?.features ?? []).map((flag) => [flag.name, flag]));
  const oldSegments = segmentsById(before?.segments);
  const newSegments = segmentsById(after.segments);
  const changedSegments = new Set<number>();
  for (const id of new Set([...oldSegments.keys(), ...newSegments.keys()])) {
    const a = oldSegments.get(id);
    const b = newSegments.get(id);
    if (a !== b && (a === undefined || b === undefined || JSON.stringify(a) !== JSON.stringify(b)))
      changedSegments.add(id);
  }
  const changed = new Set<string>();
  for (const flag of after.features) {
    const old = oldFlags.get(flag.name);
    oldFlags.delete(flag.name);
    // The same object is the same flag (a delta leaves untouched flags as they were): no JSON needed.
    const differs = old === undefined || (old !== flag && JSON.stringify(old) !== JSON.stringify(flag));
    if (differs || usesAny(flag, changedSegments)) {
      changed.add(flag.name);
    }
  }
  for (const name of oldFlags.keys()) changed.add(name);
  // A child's answer follows its parent's (Unleash allows one level of dependencies).
  for (const flag of after.features) {
    if (flag.dependencies?.some((dependency) => changed.has(dependency.feature))) changed.add(flag.name);
  }
  return [...changed].sort();
}

// Compared by identity, then as JSON text: a state parsed anew has new objects for unchanged segments.
function segmentsById(segments: Segment[] | undefined): Map<number, Segment> {
  return new Map((segments ?? []).map((segment) => [segment.id, segment]));
}

function usesAny(flag: Flag, segments: Set<number>): boolean {
  if (segments.size === 0) return false;
  return flag.strategies.some((strategy) => strategy.segments?.some((id) => segments.has(id)));
}
