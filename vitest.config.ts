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
  "packages/runtime/src/replica/lsn-token.test.ts",
  "packages/runtime/src/replica/replica-pool-options.test.ts",
  "packages/runtime/src/replica/replica-state.test.ts",
];

/**
 * Tests whose assertions hold only on a machine doing little else: throughput floors, deadlines
 * of a few seconds, timeouts raced against the clock. They run last, one file at a time, alone.
 */
const TIMING = [
  "packages/router/src/zero-downtime.test.ts",
  "packages/router/src/slow-clients.test.ts",
  "packages/router/src/hardening.test.ts",
  "packages/router/src/health.test.ts",
  "packages/router/src/retry.test.ts",
  "packages/router/src/split.test.ts",
  "packages/router/src/assigned-stickiness.test.ts",
  "packages/control/src/release/strategies.test.ts",
  "packages/control/src/release/judged-releases.test.ts",
  "packages/control/src/release/canary-release.test.ts",
  "packages/control/src/release/outage.test.ts",
  "packages/control/src/release/load-balanced-canary.test.ts",
  "packages/control/src/providers/local-provider.test.ts",
  "packages/control/src/flags/flag-schedule.test.ts",
  "packages/control/src/flags/guarded-rollout.test.ts",
  "packages/migrate/src/lock-timeout.test.ts",
  "packages/runtime/src/cache/xfetch.test.ts",
  "packages/runtime/src/health/dependency-checks.test.ts",
  "packages/runtime/src/health/health.test.ts",
  "packages/runtime/src/resilience/resilient-fetch.test.ts",
  "packages/runtime/src/shutdown/graceful-shutdown.test.ts",
  "packages/runtime/src/shutdown/graceful-shutdown-process.test.ts",
];

/** The CLI's tests (each runs `baton up` or the CLI as processes): one lane beside the others. */
const CLI = ["packages/cli/src/**/*.test.ts"];

const ALL = ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts"];
const source = { conditions: ["@baton/source"] };
const common = { testTimeout: 60_000, hookTimeout: 60_000 };
const project = (name: string, groupOrder: number, include: string[], exclude: string[], serial = true) => ({
  resolve: source,
  ssr: { resolve: source },
  test: {
    ...common,
    name,
    include,
    exclude: [...configDefaults.exclude, ...exclude],
    ...(serial ? { fileParallelism: false } : { maxWorkers: 2 }),
    sequence: { groupOrder },
  },
});

/**
 * Three stages: the compute-only files two at a time; then the CLI's tests and the other system
 * tests side by side, each one file at a time (`npm test` runs them as two Vitest processes:
 * scripts/test-lanes.mjs); then the timing-sensitive files alone. `npx vitest run` runs the same
 * projects one after another.
 */
export default defineConfig({
  test: {
    reporters: ["default"],
    // Two files at once at most, across the projects of a stage (one lane each in the middle one).
    maxWorkers: 2,
    projects: [
      project("compute", 0, COMPUTE_ONLY, [], false),
      project("cli", 1, CLI, TIMING),
      project("system", 1, ALL, [...COMPUTE_ONLY, ...TIMING, ...CLI]),
      project("timing", 2, TIMING, []),
    ],
  },
});
