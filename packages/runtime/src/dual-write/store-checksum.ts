import { createHash } from "node:crypto";
import type { MigrationStore } from "./migration-store.js";
import { stableJson } from "./value-diff.js";

/** A store's live records (tombstones left out), summed up so that two stores can be compared. */
export interface StoreChecksum {
  count: number;
  /** Hex; independent of the order the store lists its records in. */
  digest: string;
}

/**
 * Reads every record of a store and sums up the live ones: key, version and value (as JSON with
 * sorted keys), each hashed, XORed together, so that Redis's unordered SCAN and PostgreSQL's key
 * order give the same digest. Keys a scan lists twice are counted once.
 */
export async function storeChecksum<V>(store: MigrationStore<V>, pageSize = 500): Promise<StoreChecksum> {
  const acc = Buffer.alloc(32);
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.scan(cursor, pageSize);
    for (const record of page.records) {
      if (record.value === undefined || seen.has(record.key)) continue;
      seen.add(record.key);
      const hash = createHash("sha256")
        .update(`${record.key}\u0000${record.version}\u0000${stableJson(record.value)}`)
        .digest();
      for (let i = 0; i < 32; i++) acc[i] = (acc[i] ?? 0) ^ (hash[i] ?? 0);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return { count: seen.size, digest: acc.toString("hex") };
}
