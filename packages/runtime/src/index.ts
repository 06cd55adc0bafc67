// @baton/runtime: the public surface. Each part is usable alone; each part's own index.ts says
// what it exports.
export * from "./cache/index.js";
export * from "./dual-write/index.js";
export type { HealthCheck } from "./health/health-check.js";
export * from "./health/index.js";
export * from "./metrics/index.js";
export * from "./replica/index.js";
export * from "./resilience/index.js";
export * from "./shutdown/index.js";
export * from "./versioning/index.js";
