// The health part of @baton/runtime: its public exports only.
export type { CheckResult, HealthAnswer, HealthReport } from "./check-result.js";
export { expressHealth } from "./express-health.js";
export { type FastifyRoutes, fastifyHealth } from "./fastify-health.js";
export { type Health, type HealthOptions, type HealthPaths, health } from "./health.js";
export { type HttpCheckOptions, httpCheck } from "./http-check.js";
export { type PgCheckOptions, type PgQueryable, pgCheck } from "./pg-check.js";
export { type PostgresJsCheckOptions, type PostgresJsSql, postgresJsCheck } from "./postgres-js-check.js";
export { type RedisCheckOptions, type RedisPingable, redisCheck } from "./redis-check.js";
