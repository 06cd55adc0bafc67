import { describe, expect, it } from "vitest";
import { formatDuration } from "./format-duration.js";

describe("formatDuration", () => {
  it("reads as a duration at every scale", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(2500)).toBe("2.5s");
    expect(formatDuration(30_000)).toBe("30s");
    expect(formatDuration(600_000)).toBe("10m");
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(86_400_000)).toBe("1d");
    expect(formatDuration(93_784_000)).toBe("1d2h");
    expect(formatDuration(3_600_000 + 5000)).toBe("1h");
  });
});
