import { describe, expect, it } from "vitest";
import { VersionChain, VersionTransformError } from "./version-chain.js";

/** Each change appends its name on the way up and removes it on the way down, so order shows. */
const trace = (version: string, name: string, applies: (scope: string) => boolean = () => true) => ({
  version,
  description: name,
  applies,
  up: (v: string[]) => [...v, name],
  down: (v: string[]) => {
    if (v[v.length - 1] !== name) throw new Error(`expected ${name} last, got ${v.join(",")}`);
    return v.slice(0, -1);
  },
});

describe("a chain of three versions", () => {
  const chain = new VersionChain<string>(
    ["2024-01-01", "2024-06-01", "2025-01-01"],
    [trace("2024-06-01", "a"), trace("2025-01-01", "b"), trace("2025-01-01", "c", (s) => s !== "skip-c")],
  );

  it("goes up through every later change in order, and down in reverse", () => {
    expect(chain.upgrade([], "2024-01-01", "any")).toEqual(["a", "b", "c"]);
    expect(chain.upgrade([], "2024-06-01", "any")).toEqual(["b", "c"]);
    expect(chain.upgrade([], "2025-01-01", "any")).toEqual([]);
    expect(chain.downgrade(["a", "b", "c"], "2024-01-01", "any")).toEqual([]);
    expect(chain.downgrade(["a", "b", "c"], "2024-06-01", "any")).toEqual(["a"]);
  });

  it("skips a change whose scope does not apply, both ways", () => {
    expect(chain.upgrade([], "2024-01-01", "skip-c")).toEqual(["a", "b"]);
    expect(chain.downgrade(["a", "b"], "2024-01-01", "skip-c")).toEqual([]);
  });

  it("names the change, the direction and the version when a transform throws", () => {
    let err: unknown;
    try {
      chain.downgrade(["wrong"], "2024-06-01", "any");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VersionTransformError);
    expect(err).toMatchObject({
      direction: "down",
      clientVersion: "2024-06-01",
      change: { description: "c" },
    });
    expect((err as Error).message).toBe(
      'cannot write a 2025-01-01 body as 2024-06-01 (change "c"): expected c last, got wrong',
    );
  });

  it("refuses duplicate or empty versions", () => {
    expect(() => new VersionChain(["v1", "v1"], [])).toThrow(/"v1" is listed twice/);
    expect(() => new VersionChain([], [])).toThrow(/no versions given/);
  });
});
