import type { MigrationStore, ScanPage, StoredRecord } from "./migration-store.js";

/** What the store needs of node-postgres (a `Pool` or a `Client`), taken structurally. */
export interface PgStorePool {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface PgStoreOptions<V> {
  pool: PgStorePool;
  /** The table, `sessions` or `app.sessions`; it must have the key, version and deleted columns. */
  table: string;
  /** The primary key (default `id`). */
  keyColumn?: string;
  /** `bigint NOT NULL`, the record's version (default `version`); an existing table adds it with `DEFAULT 0`. */
  versionColumn?: string;
  /** `boolean NOT NULL DEFAULT false`, true for a tombstone (default `deleted`). */
  deletedColumn?: string;
  /** A value as the table's other columns; default: one `jsonb` column `value`. */
  toRow?: (value: V) => Record<string, unknown>;
  /** A row (every column) back as a value; default: the `value` column. */
  fromRow?: (row: Record<string, unknown>) => V;
  /** For stats and samples (default `pg:<table>`). */
  name?: string;
}

/** `"app"."sessions"` from `app.sessions`; a name with a quote or an empty part is refused. */
export function quoteIdentifier(name: string): string {
  const parts = name.split(".");
  if (parts.some((part) => part === "" || part.includes('"') || part.includes("\u0000"))) {
    throw new TypeError(`"${name}" is not a usable PostgreSQL name (empty part, quote or NUL)`);
  }
  return parts.map((part) => `"${part}"`).join(".");
}

export interface PgMigrationStore<V> extends MigrationStore<V> {
  /**
   * Deletes tombstones older than `olderThanMs` (their version is a time in µs), answering how
   * many; run it once no copy that old can still be on its way (a day is plenty).
   */
  purgeTombstones(olderThanMs: number): Promise<number>;
}

// The version a write as the truth takes: the server's clock in µs, or the key's previous version
// + 1 when the clock is behind it (another store's clock wrote it, or this one stepped back).
const NOW_US = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

/**
 * A PostgreSQL table as a migration store. Each write is one statement (`INSERT ... ON CONFLICT`),
 * so the version check and the write are atomic under concurrent writers; a delete keeps the row
 * as a tombstone (`deleted`, the other columns as they were or null) with the delete's version.
 */
export function pgStore<V>(options: PgStoreOptions<V>): PgMigrationStore<V> {
  const { pool } = options;
  const table = quoteIdentifier(options.table);
  const key = quoteIdentifier(options.keyColumn ?? "id");
  const ver = quoteIdentifier(options.versionColumn ?? "version");
  const del = quoteIdentifier(options.deletedColumn ?? "deleted");
  const versionName = options.versionColumn ?? "version";
  const deletedName = options.deletedColumn ?? "deleted";
  const toRow = options.toRow ?? ((value: V) => ({ value: JSON.stringify(value) }));
  const fromRow = options.fromRow ?? ((row: Record<string, unknown>) => row.value as V);

  const record = (row: Record<string, unknown>, k: string): StoredRecord<V> => ({
    key: k,
    version: Number(row[versionName]),
    value: row[deletedName] ? undefined : fromRow(row),
  });

  /** INSERT ... ON CONFLICT for a value or a tombstone, `version` being SQL for the new version. */
  const upsert = (k: string, value: V | undefined, version: string | number, asCopy: boolean) => {
    const row = value === undefined ? {} : toRow(value);
    const columns = Object.keys(row).map(quoteIdentifier);
    const values: unknown[] = [k, ...Object.values(row), value === undefined];
    const params = columns.map((_, i) => `$${i + 2}`);
    const deleted = `$${columns.length + 2}`;
    let versionValue = version;
    if (typeof version === "number") {
      values.push(version);
      versionValue = `$${values.length}`;
    }
    const set = [...columns.map((c) => `${c} = EXCLUDED.${c}`), `${del} = EXCLUDED.${del}`];
    set.push(asCopy ? `${ver} = EXCLUDED.${ver}` : `${ver} = GREATEST(${NOW_US}, t.${ver} + 1)`);
    const text =
      `INSERT INTO ${table} AS t (${[key, ...columns, del, ver].join(", ")}) ` +
      `VALUES ($1, ${[...params, deleted, versionValue].join(", ")}) ` +
      `ON CONFLICT (${key}) DO UPDATE SET ${set.join(", ")}` +
      (asCopy ? ` WHERE t.${ver} <= EXCLUDED.${ver}` : "") +
      ` RETURNING t.${ver} AS version`;
    return pool.query(text, values);
  };

  return {
    name: options.name ?? `pg:${options.table}`,
    async get(k) {
      const { rows } = await pool.query(`SELECT * FROM ${table} WHERE ${key} = $1`, [k]);
      return rows[0] ? record(rows[0], k) : undefined;
    },
    async put(k, value) {
      const { rows } = await upsert(k, value, NOW_US, false);
      return Number(rows[0]?.version);
    },
    async putCopy(r) {
      const { rows } = await upsert(r.key, r.value, r.version, true);
      return rows.length > 0;
    },
    async scan(cursor, limit): Promise<ScanPage<V>> {
      const { rows } =
        cursor === undefined
          ? await pool.query(`SELECT * FROM ${table} ORDER BY ${key} LIMIT $1`, [limit])
          : await pool.query(`SELECT * FROM ${table} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2`, [
              cursor,
              limit,
            ]);
      const keyName = options.keyColumn ?? "id";
      const records = rows.map((row) => record(row, String(row[keyName])));
      return { records, cursor: rows.length < limit ? undefined : records.at(-1)?.key };
    },
    async purgeTombstones(olderThanMs) {
      const { rows } = await pool.query(
        `WITH gone AS (DELETE FROM ${table} WHERE ${del} AND ${ver} < ${NOW_US} - $1::bigint * 1000 RETURNING 1)
         SELECT count(*)::int AS n FROM gone`,
        [Math.floor(olderThanMs)],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}
