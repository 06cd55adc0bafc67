/**
 * One key's state in a store. Every write carries a version (microseconds from the clock of the
 * store that took it as the truth, and always above the key's previous version), and a copy is
 * applied elsewhere only when its version is newer: that is what lets a backfill race live writes,
 * and two stores converge whatever order the writes reach them in.
 */
export interface StoredRecord<V> {
  key: string;
  version: number;
  /** Undefined for a tombstone: a delete, kept with its version so that no older copy brings the key back. */
  value: V | undefined;
}

export interface ScanPage<V> {
  /** Tombstones included. A store may return a record twice across pages (Redis SCAN does). */
  records: StoredRecord<V>[];
  /** Where the next page starts; undefined when the scan is complete. */
  cursor: string | undefined;
}

/** What a store must do to take part in a migration, as the old store or the new one. */
export interface MigrationStore<V> {
  /** Names the store in stats, samples and errors ("pg:sessions", "redis:session:"). */
  readonly name: string;
  /** The key's record, tombstone included; undefined when the store holds nothing for it. */
  get(key: string): Promise<StoredRecord<V> | undefined>;
  /**
   * Writes as the truth: the store picks the version (its clock in µs, at least the key's previous
   * version + 1) atomically with the write, and answers it. `undefined` writes a tombstone.
   */
  put(key: string, value: V | undefined): Promise<number>;
  /**
   * Applies a copy of another store's record unless this one holds a newer version; true if it was
   * applied. The same version is applied again (a copy of the same write): a backfill run again
   * after a fix of this store's mapping rewrites what the faulty mapping wrote.
   */
  putCopy(record: StoredRecord<V>): Promise<boolean>;
  /** One page of every record, for backfills and checksums; `cursor` undefined starts at the beginning. */
  scan(cursor: string | undefined, limit: number): Promise<ScanPage<V>>;
}
