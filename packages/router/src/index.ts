export { formatHostPort, type HostPort, parseHostPort } from "./address.js";
export { cidrProblem } from "./cidr-set.js";
export {
  loadRouterConfig,
  parseRouterConfig,
  parseServiceConfig,
  parseYamlConfig,
  type RouterConfig,
  type RouterConfigInput,
  type ServiceConfig,
  type ServiceConfigInput,
  type Stickiness,
  serviceToInput,
  type TrackConfig,
  validateRouterConfig,
} from "./config.js";
export { durationSchema, optionalDurationSchema } from "./config-schema.js";
export { formatDuration, parseDuration } from "./duration.js";
export { BatonRouterError, ConfigError, type ConfigIssue, UnknownServiceError } from "./errors.js";
export { InstanceState } from "./instance-state.js";
export type { WindowSummary } from "./latency-window.js";
export { createLogger, type Logger, silentLogger } from "./logger.js";
export { TRACK_OVERRIDE_HEADER, TRACK_TOKEN_HEADER } from "./request-head.js";
export { createRouter, Router, type RouterOptions } from "./router.js";
export { BUCKETS, stickyBucket } from "./sticky-bucket.js";
export { ASSIGNED_STICKY_COOKIE } from "./sticky-key.js";
export type { InstanceView, ServiceView, StatsView, TrackStatsView } from "./views.js";
