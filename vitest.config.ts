import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@baton/source"] },
  ssr: { resolve: { conditions: ["@baton/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real servers and child processes; two cores do not like many at once.
    fileParallelism: false,
    reporters: ["default"],
  },
});
