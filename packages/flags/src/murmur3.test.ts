import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { murmur3 } from "./murmur3.js";
import { normalizedValue, VARIANT_SEED } from "./normalized-value.js";

// The port unleash-client hashes with, resolved from unleash-client itself.
const requireFromUnleash = createRequire(createRequire(import.meta.url).resolve("unleash-client"));
const murmurhash3js = requireFromUnleash("murmurhash3js");

describe("murmur3", () => {
  it("matches murmurhash3js on ASCII, non-ASCII, astral and lone-surrogate strings, every length mod 4", () => {
    const alphabet = ["a", "Z", "0", ":", "é", "ø", "Ω", "你", "😊", "\ud800", "\u0000", "\uffff"];
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 5000; i++) {
      const key = Array.from({ length: next() % 13 }, () => alphabet[next() % alphabet.length]).join("");
      for (const hashSeed of [0, VARIANT_SEED]) {
        expect(murmur3(key, hashSeed), JSON.stringify(key)).toBe(murmurhash3js.x86.hash32(key, hashSeed));
      }
    }
  });

  it("buckets as Unleash's normalizedValue: groupId, a colon and the id, hashed, 1..100", () => {
    expect(normalizedValue("123", "gr1")).toBe((murmurhash3js.x86.hash32("gr1:123", 0) % 100) + 1);
    expect(normalizedValue("u", undefined, 1000, VARIANT_SEED)).toBe(
      (murmurhash3js.x86.hash32("undefined:u", VARIANT_SEED) % 1000) + 1,
    );
  });
});
