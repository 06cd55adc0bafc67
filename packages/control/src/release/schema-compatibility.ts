import type { MigrationRecord, MigrationStatusReport, SchemaModel } from "@baton/migrate";
import { searchPathFor } from "@baton/migrate";

/**
 * What in `old` (the schema a version was released against) `now` no longer offers it: a table or
 * a column gone or renamed, a column of another type, or one that became NOT NULL without a
 * default (the old code's inserts would fail). Empty: the old version still runs on `now`.
 */
export function schemaBreaks(old: SchemaModel, now: SchemaModel): string[] {
  const breaks: string[] = [];
  for (const table of old.tables) {
    const there = now.tables.find((t) => t.name === table.name);
    if (!there) {
      breaks.push(`table ${table.name} is gone`);
      continue;
    }
    for (const column of table.columns) {
      const c = there.columns.find((x) => x.name === column.name);
      if (!c) breaks.push(`${table.name}.${column.name} is gone`);
      else if (c.type !== column.type)
        breaks.push(`${table.name}.${column.name} is ${c.type} now, not ${column.type}`);
      else if (column.nullable && !c.nullable && c.default === null)
        breaks.push(`${table.name}.${column.name} is NOT NULL now, without a default`);
    }
  }
  return breaks;
}

/** The schema a search path gave its applications, from the migrations' records; undefined if unknown. */
export function modelOf(searchPath: string, report: MigrationStatusReport): SchemaModel | undefined {
  const records = [...report.history, ...(report.active ? [report.active] : [])];
  const made = records.find((r) => searchPathFor(r.versionSchema, report.schema) === searchPath);
  if (made) return made.after;
  // The tables themselves (no version schema yet): what the first migration found.
  if (searchPath === searchPathFor(null, report.schema)) return oldest(records)?.before;
  return undefined;
}

function oldest(records: MigrationRecord[]): MigrationRecord | undefined {
  return [...records].sort((a, b) => a.id - b.id)[0];
}
