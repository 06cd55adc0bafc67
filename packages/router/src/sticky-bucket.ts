/** Number of buckets the sticky key space is cut into: one per basis point of weight. */
export const BUCKETS = 10_000;

/**
 * Maps a sticky key (user id, cookie, client address) to a bucket in [0, 10000).
 * FNV-1a over the UTF-16 code units, salted per service so that two services do not put the
 * same users in their canaries, then a murmur3 finaliser so nearby keys ("user-1", "user-2")
 * spread evenly. Stable across processes and restarts: a user keeps its bucket.
 */
export function stickyBucket(key: string, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

/** A per-service salt, derived from its name. */
export function serviceSalt(name: string): number {
  return stickyBucketRaw(name);
}

function stickyBucketRaw(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
