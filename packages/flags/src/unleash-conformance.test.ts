import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyDelta, type DeltaEvent } from "./apply-delta.js";
import { getVariant, isEnabled } from "./evaluate.js";
import type { FlagContext } from "./flag-context.js";
import type { FlagState } from "./flag-schema.js";

// Unleash's official client specification, every file its index lists.
const specDir = join(
  dirname(createRequire(import.meta.url).resolve("@unleash/client-specification/package.json")),
  "specifications",
);
const specFiles: string[] = JSON.parse(readFileSync(join(specDir, "index.json"), "utf8"));

interface SpecCase<T> {
  description: string;
  context: FlagContext;
  toggleName: string;
  expectedResult: T;
}
interface Spec {
  name: string;
  state: FlagState | { events: DeltaEvent[] };
  tests?: SpecCase<boolean>[];
  variantTests?: SpecCase<{ name: string; enabled: boolean; feature_enabled: boolean; payload?: unknown }>[];
}

/** The delta files give a list of events instead of a state: we apply them to an empty state. */
function stateOf(spec: Spec): FlagState {
  const { events } = spec.state as { events?: DeltaEvent[] };
  return events ? applyDelta({ features: [], segments: [] }, events) : (spec.state as FlagState);
}

let passed = 0;
afterAll(() => {
  console.log(`Unleash client specification: ${specFiles.length} files, ${passed} test cases passed`);
});

describe("@unleash/client-specification 6.1.0", () => {
  it("lists 22 specification files", () => {
    expect(specFiles).toHaveLength(22);
  });

  for (const file of specFiles) {
    const spec: Spec = JSON.parse(readFileSync(join(specDir, file), "utf8"));
    const state = stateOf(spec);
    describe(file, () => {
      for (const test of spec.tests ?? []) {
        it(`isEnabled: ${test.description}`, () => {
          expect(isEnabled(state, test.toggleName, test.context)).toBe(test.expectedResult);
          passed++;
        });
      }
      for (const test of spec.variantTests ?? []) {
        it(`getVariant: ${test.description}`, () => {
          const { feature_enabled, ...expected } = test.expectedResult;
          expect(getVariant(state, test.toggleName, test.context)).toEqual({
            ...expected,
            featureEnabled: feature_enabled,
          });
          passed++;
        });
      }
    });
  }
});
