// Business metrics per version for Baton's release analysis.
export {
  createReleaseMetrics,
  type ReleaseMetrics,
  type ReleaseMetricsOptions,
} from "./create-release-metrics.js";
export type { MetricsPayload } from "./metrics-report.js";
export { valueBucket } from "./value-bucket.js";
