import { describe, expect, it } from "vitest";
import { cookieValue } from "./hop-headers.js";

describe("cookieValue", () => {
  it("finds a cookie only where a cookie starts", () => {
    expect(cookieValue("a=1; baton_sticky=abc; b=2", "baton_sticky")).toBe("abc");
    expect(cookieValue("baton_sticky=abc", "baton_sticky")).toBe("abc");
    expect(cookieValue("a=1;baton_sticky=abc", "baton_sticky")).toBe("abc");
    expect(cookieValue("a=1;  \tbaton_sticky=abc", "baton_sticky")).toBe("abc");
    // Inside another cookie's value, or part of a longer name: not it.
    expect(cookieValue("x=1 baton_sticky=abc", "baton_sticky")).toBeUndefined();
    expect(cookieValue("my_baton_sticky=abc", "baton_sticky")).toBeUndefined();
    expect(cookieValue("x=baton_sticky=abc", "baton_sticky")).toBeUndefined();
    expect(cookieValue("baton_sticky=", "baton_sticky")).toBeUndefined();
  });
});
