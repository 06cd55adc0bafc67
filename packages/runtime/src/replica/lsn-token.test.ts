import { describe, expect, it } from "vitest";
import { formatLsnToken, InvalidLsnTokenError, parseLsnToken } from "./lsn-token.js";

describe("read-your-writes tokens", () => {
  it("round-trip PostgreSQL's LSN text, and order as the LSNs do", () => {
    for (const text of ["0/0", "0/16B3748", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
      expect(formatLsnToken(parseLsnToken(text))).toBe(text);
    expect(parseLsnToken("16/b374d848")).toBe(0x16_b374d848n);
    expect(parseLsnToken("1/0") > parseLsnToken("0/FFFFFFFF")).toBe(true);
  });

  it("reject anything else with an error that quotes it shortened", () => {
    for (const bad of ["", "16", "16/", "/1", "16/B374D848 ", "1/2/3", "123456789/0", "0x1/2", "1;2", "-1/2"])
      expect(() => parseLsnToken(bad), bad).toThrow(InvalidLsnTokenError);
    expect(() => parseLsnToken("<script>".repeat(20))).toThrow(
      /invalid read-your-writes token "(<script>){5}…"/,
    );
    expect(() => parseLsnToken(42 as unknown as string)).toThrow(/must be a string, got number/);
    expect(() => formatLsnToken(-1n)).toThrow(RangeError);
  });
});
