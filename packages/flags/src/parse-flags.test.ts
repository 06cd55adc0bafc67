import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { FlagDefinitionError } from "./flag-definition-error.js";
import { parseFlag, parseFlagState } from "./parse-flags.js";

const specDir = join(
  dirname(createRequire(import.meta.url).resolve("@unleash/client-specification/package.json")),
  "specifications",
);

function errorOf(run: () => unknown): FlagDefinitionError {
  try {
    run();
  } catch (error) {
    if (error instanceof FlagDefinitionError) return error;
    throw error;
  }
  throw new Error("expected a FlagDefinitionError");
}

describe("flag schema", () => {
  it("accepts every state of Unleash's specification, but the deliberately broken constraints", () => {
    const files: string[] = JSON.parse(readFileSync(join(specDir, "index.json"), "utf8"));
    const refused: string[] = [];
    for (const file of files) {
      const { state } = JSON.parse(readFileSync(join(specDir, file), "utf8"));
      if (!state.features) continue; // the delta files carry events, not a state
      try {
        parseFlagState(state);
      } catch (error) {
        if (!(error instanceof FlagDefinitionError)) throw error;
        for (const issue of error.issues) {
          const flag = state.features[Number(/^features\[(\d+)\]/.exec(issue.path)?.[1])]?.name;
          refused.push(`${file} ${flag}: ${issue.path.replace(/^features\[\d+\]\./, "")}`);
        }
      }
    }
    // The specification checks that SDKs evaluate these as false; Baton refuses to store them.
    expect(refused).toEqual(SPEC_FLAGS_REFUSED);
  });

  it("keeps fields it does not evaluate", () => {
    const flag = parseFlag({ name: "f", enabled: true, strategies: [], project: "p", stale: false });
    expect(flag).toMatchObject({ project: "p", stale: false });
  });

  it("names each bad field by its path", () => {
    const error = errorOf(() =>
      parseFlag({
        name: "checkout",
        enabled: "yes",
        strategies: [
          { name: "flexibleRollout", parameters: { rollout: "150", stickiness: "default" } },
          { name: "default", constraints: [{ contextName: "age", operator: "NUM_GT", value: "old" }] },
          { name: "default", constraints: [{ contextName: "id", operator: "LIKE", values: [] }] },
          { name: "default", constraints: [{ contextName: "id", operator: "REGEX", value: "(a" }] },
        ],
        variants: [{ name: "a", weight: -1 }],
      }),
    );
    expect(error.message).toMatch(/^invalid flag checkout: /);
    expect(error.issues.map((issue) => issue.path)).toEqual([
      "enabled",
      "strategies[0].parameters.rollout",
      "strategies[1].constraints[0].value",
      "strategies[2].constraints[0].operator",
      "strategies[3].constraints[0].value",
      "variants[0].weight",
    ]);
    expect(error.message).toContain("flexibleRollout needs rollout from 0 to 100");
    expect(error.message).toContain('not a number: "old"');
  });

  it("refuses a state whose strategies name a segment it does not have, or a flag twice", () => {
    const error = errorOf(() =>
      parseFlagState({
        features: [
          { name: "a", enabled: true, strategies: [{ name: "default", segments: [1, 2] }] },
          { name: "a", enabled: true, strategies: [] },
        ],
        segments: [{ id: 1, constraints: [] }],
      }),
    );
    expect(error.issues).toEqual([
      { path: "features[1].name", message: "duplicate flag a" },
      { path: "features[0].strategies[0].segments[1]", message: "no segment with id 2" },
    ]);
  });
});

const SPEC_FLAGS_REFUSED = [
  "13-constraint-operators.json F7.invalid-operator: strategies[0].constraints[0].operator",
  "15-global-constraints.json F9.withMissingSegment: strategies[0].segments[0]",
  "21-regex-constraint-operators.json invalid-regex-defaults-to-false: strategies[0].constraints[0].value",
  "21-regex-constraint-operators.json R90.reject_lookahead: strategies[0].constraints[0].value",
  "21-regex-constraint-operators.json R91.reject_backreference: strategies[0].constraints[0].value",
];
