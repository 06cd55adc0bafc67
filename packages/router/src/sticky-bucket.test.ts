import { describe, expect, it } from "vitest";
import { BUCKETS, serviceSalt, stickyBucket } from "./sticky-bucket.js";

describe("sticky buckets", () => {
  const salt = serviceSalt("payments");

  it("spreads 100k user ids evenly: every 10% slice holds 10% +/- 0.5pp", () => {
    const slices = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) slices[Math.floor(stickyBucket(`user-${i}`, salt) / (BUCKETS / 10))]++;
    for (const n of slices) expect(Math.abs(n / 100_000 - 0.1)).toBeLessThan(0.005);
  });

  it("is stable for a key and differs between services", () => {
    expect(stickyBucket("user-42", salt)).toBe(stickyBucket("user-42", salt));
    let same = 0;
    const other = serviceSalt("search");
    for (let i = 0; i < 10_000; i++)
      if (stickyBucket(`u${i}`, salt) < 1000 === stickyBucket(`u${i}`, other) < 1000) same++;
    // Independent 10% canaries agree on membership for ~82% of users (0.9^2 + 0.1^2), not 100%.
    expect(same / 10_000).toBeLessThan(0.9);
  });
});
