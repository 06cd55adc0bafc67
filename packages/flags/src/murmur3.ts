/**
 * MurmurHash3, x86 32-bit flavour, as computed by `murmurhash3js` 3.0.1, the port unleash-client uses.
 *
 * That port reads a string's UTF-16 code units and keeps only the low byte of each (and hashes the
 * string's UTF-16 length), rather than hashing UTF-8 bytes. For ASCII both are the same; for any other
 * character they differ, and Unleash's Node SDK is what users compare us with, so we do exactly as it does.
 */
export function murmur3(key: string, seed = 0): number {
  const length = key.length;
  const tail = length % 4;
  const blocksEnd = length - tail;
  let h1 = seed | 0;
  let i = 0;
  for (; i < blocksEnd; i += 4) {
    let k1 =
      (key.charCodeAt(i) & 0xff) |
      ((key.charCodeAt(i + 1) & 0xff) << 8) |
      ((key.charCodeAt(i + 2) & 0xff) << 16) |
      ((key.charCodeAt(i + 3) & 0xff) << 24);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  if (tail > 0) {
    let k1 = 0;
    if (tail === 3) k1 ^= (key.charCodeAt(i + 2) & 0xff) << 16;
    if (tail >= 2) k1 ^= (key.charCodeAt(i + 1) & 0xff) << 8;
    k1 ^= key.charCodeAt(i) & 0xff;
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
  }
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/**
 * The hash state after the whole 4-character blocks of a prefix, so that keys sharing it (a flag's
 * `groupId:` before every user id) hash without building the joined string: `murmur3After(prefix,
 * key)` equals `murmur3(prefixText + key, seed)`.
 */
export interface Murmur3Prefix {
  readonly h1: number;
  /** The prefix's last 0-3 characters, not yet a whole block. */
  readonly rest: string;
  readonly length: number;
}

export function murmur3Prefix(prefix: string, seed = 0): Murmur3Prefix {
  const blocksEnd = prefix.length - (prefix.length % 4);
  let h1 = seed | 0;
  for (let i = 0; i < blocksEnd; i += 4) {
    let k1 =
      (prefix.charCodeAt(i) & 0xff) |
      ((prefix.charCodeAt(i + 1) & 0xff) << 8) |
      ((prefix.charCodeAt(i + 2) & 0xff) << 16) |
      ((prefix.charCodeAt(i + 3) & 0xff) << 24);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  return { h1, rest: prefix.slice(blocksEnd), length: prefix.length };
}

/** `murmur3(prefix + key)`, from the prefix's state. */
export function murmur3After(prefix: Murmur3Prefix, key: string): number {
  const rest = prefix.rest;
  const r = rest.length;
  // Positions below are in the rest of the prefix followed by the key (r < 4: only the first block mixes).
  const total = r + key.length;
  const tail = total % 4;
  const blocksEnd = total - tail;
  let h1 = prefix.h1;
  let i = 0;
  if (r > 0 && blocksEnd > 0) {
    let k1 = 0;
    for (let b = 0; b < 4; b++)
      k1 |= ((b < r ? rest.charCodeAt(b) : key.charCodeAt(b - r)) & 0xff) << (8 * b);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    i = 4;
  }
  for (; i < blocksEnd; i += 4) {
    const j = i - r;
    let k1 =
      (key.charCodeAt(j) & 0xff) |
      ((key.charCodeAt(j + 1) & 0xff) << 8) |
      ((key.charCodeAt(j + 2) & 0xff) << 16) |
      ((key.charCodeAt(j + 3) & 0xff) << 24);
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  if (tail > 0) {
    let k1 = 0;
    for (let b = tail - 1; b >= 0; b--) {
      const at = i + b;
      k1 ^= ((at < r ? rest.charCodeAt(at) : key.charCodeAt(at - r)) & 0xff) << (8 * b);
    }
    k1 = Math.imul(k1, 0xcc9e2d51);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, 0x1b873593);
    h1 ^= k1;
  }
  h1 ^= prefix.length + key.length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}
