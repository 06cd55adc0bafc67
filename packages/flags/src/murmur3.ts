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
