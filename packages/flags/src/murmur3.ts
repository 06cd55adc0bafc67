/**
 * MurmurHash3, x86 32-bit flavour, as computed by `murmurhash3js` 3.0.1, the port unleash-client uses.
 *
 * That port reads a string's UTF-16 code units and keeps only the low byte of each (and hashes the
 * string's UTF-16 length), rather than hashing UTF-8 bytes. For ASCII both are the same; for any other
 * character they differ, and Unleash's Node SDK is what users compare us with, so we do exactly as it does.
 */
export function murmur3(key: string, seed = 0): number {
  return murmur3After({ h1: seed | 0, rest: "", length: 0 }, key);
}

/** One 4-byte block scrambled (k1 in MurmurHash3's terms). */
function scramble(k1: number): number {
  k1 = Math.imul(k1, 0xcc9e2d51);
  k1 = (k1 << 15) | (k1 >>> 17);
  return Math.imul(k1, 0x1b873593);
}

/** A whole block mixed into the state. */
function mixBlock(h1: number, k1: number): number {
  h1 ^= scramble(k1);
  h1 = (h1 << 13) | (h1 >>> 19);
  return (Math.imul(h1, 5) + 0xe6546b64) | 0;
}

/** The low bytes of four code units from `at`, little-endian, as murmurhash3js reads them. */
function blockAt(text: string, at: number): number {
  return (
    (text.charCodeAt(at) & 0xff) |
    ((text.charCodeAt(at + 1) & 0xff) << 8) |
    ((text.charCodeAt(at + 2) & 0xff) << 16) |
    ((text.charCodeAt(at + 3) & 0xff) << 24)
  );
}

/** The final avalanche, after the length. */
function finish(h1: number, length: number): number {
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
  for (let i = 0; i < blocksEnd; i += 4) h1 = mixBlock(h1, blockAt(prefix, i));
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
    h1 = mixBlock(h1, k1);
    i = 4;
  }
  for (; i < blocksEnd; i += 4) h1 = mixBlock(h1, blockAt(key, i - r));
  if (tail > 0) {
    let k1 = 0;
    for (let b = tail - 1; b >= 0; b--) {
      const at = i + b;
      k1 ^= ((at < r ? rest.charCodeAt(at) : key.charCodeAt(at - r)) & 0xff) << (8 * b);
    }
    h1 ^= scramble(k1);
  }
  return finish(h1, prefix.length + key.length);
}
