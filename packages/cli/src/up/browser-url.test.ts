import { describe, expect, it } from "vitest";
import { browserUrl } from "./browser-url.js";

describe("the dashboard link's host", () => {
  it("is 127.0.0.1, with a note naming the machine, when the API listens on every address", () => {
    for (const listening of ["http://0.0.0.0:7070", "http://[::]:7070", "http://[::0]:7070"]) {
      const { url, note } = browserUrl(listening, "build-7");
      expect(url, listening).toBe("http://127.0.0.1:7070");
      expect(note, listening).toContain("http://build-7:7070/#login=...");
      expect(note, listening).toContain(new URL(listening).hostname);
    }
  });

  it("stays as given for an address a browser can open", () => {
    for (const given of [
      "http://127.0.0.1:7070",
      "http://[::1]:7070",
      "http://10.0.0.5:80",
      "http://ci.example:7070",
    ])
      expect(browserUrl(given, "build-7")).toEqual({ url: given });
  });
});
