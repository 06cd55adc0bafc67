import { configDefaults, defineConfig } from "vitest/config";

/**
 * Tests that only compute: no process, server, socket, database, timer or clock, so that running
 * two at once changes nothing but the time they take. They run first, two at a time (with
 * nothing else), and every other test after them, one file at a time.
 */
const COMPUTE_ONLY = [
  "packages/control/src/analysis/canary-analysis.test.ts",
  "packages/control/src/audit/file-digests.test.ts",
  "packages/control/src/format-duration.test.ts",
  "packages/control/src/service-file.test.ts",
  "packages/flags/src/client/sse-parser.test.ts",
  "packages/flags/src/murmur3.test.ts",
  "packages/flags/src/openfeature/baton-flag-provider.test.ts",
  "packages/flags/src/parse-flags.test.ts",
  "packages/flags/src/re2-regex.test.ts",
  "packages/flags/src/unleash-client-cross-check.test.ts",
  "packages/flags/src/unleash-conformance.test.ts",
  "packages/migrate/src/lint/lint-files.test.ts",
  "packages/migrate/src/lint/lint-sql.test.ts",
  "packages/migrate/src/lint/rules/all-rules.test.ts",
  "packages/migrate/src/lint/squawk-pass.test.ts",
  "packages/migrate/src/migration-file.test.ts",
  "packages/router/src/config.test.ts",
  "packages/router/src/cookie-value.test.ts",
  "packages/router/src/response-parser.test.ts",
  "packages/router/src/sticky-bucket.test.ts",
];

const ALL = ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts"];
const source = { conditions: ["@baton/source"] };
const common = { testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        resolve: source,
        ssr: { resolve: source },
        test: {
          ...common,
          name: "compute",
          include: COMPUTE_ONLY,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve: source,
        ssr: { resolve: source },
        test: {
          ...common,
          name: "system",
          include: ALL,
          exclude: [...configDefaults.exclude, ...COMPUTE_ONLY],
          // Tests start real servers and child processes; two cores do not like many at once.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
