export { analyzeRelease, type MetricEvidence, type ReleaseVerdict } from "./analysis/analyze-release.js";
export {
  type AnalysisConfig,
  analyzeCanary,
  DEFAULT_ANALYSIS,
  type Decision,
  MIN_TO_DECIDE,
  type Sample,
  type Verdict,
} from "./analysis/canary-analysis.js";
export { csRadius, tauFor } from "./analysis/confidence-sequence.js";
export { type Buckets, mannWhitney, quantile } from "./analysis/histogram.js";
export {
  analyzeMetric,
  type MetricCheck,
  type MetricSample,
  type MetricVerdict,
} from "./analysis/metric-analysis.js";
export type { ApiRoute } from "./api/api-route.js";
export { apiSchemas, errorEnvelope } from "./api/api-schemas.js";
export type { ErrorEnvelope } from "./api/error-reply.js";
export { openApiDocument } from "./api/openapi-document.js";
export { type ApiOptions, buildApi, hashToken, type ReleaseControl, startApi } from "./api-server.js";
export { type AuditEvent, AuditLog, type AuditProblem, type AuditRecord } from "./audit/audit-log.js";
export { canonicalJson } from "./audit/canonical-json.js";
export {
  ControlPlane,
  type ControlPlaneOptions,
  type DeployRequest,
  type RollbackRequest,
  type Status,
} from "./control-plane.js";
export { Dashboard, type DashboardOptions } from "./dashboard/dashboard.js";
export {
  API_ERROR_CODES,
  BatonControlError,
  DatabaseUnavailableError,
  ERRORS,
  type ErrorCode,
  isErrorCode,
  ReleaseInProgressError,
  statusOf,
} from "./errors.js";
export { checkFlag, checkFlags, FLAG_NAME, flagNameProblem } from "./flags/check-flag.js";
export { CLIENT_ROUTES, registerClientApi } from "./flags/client-api.js";
export { type ClientTokenInfo, ClientTokens } from "./flags/client-tokens.js";
export { type FlagFile, parseFlagFile } from "./flags/flag-file.js";
export { type ClientMetrics, type FlagCounts, FlagMetrics } from "./flags/flag-metrics.js";
export {
  describeScheduled,
  type ScheduledAction,
  type ScheduledChange,
  type ScheduleState,
} from "./flags/flag-schedule.js";
export {
  FlagService,
  type FlagServiceOptions,
  type ScheduleRequest,
  type WriteOptions,
} from "./flags/flag-service.js";
export { type FeatureQuery, FlagSnapshot } from "./flags/flag-snapshot.js";
export { type FlagChange, FlagConflictError, type FlagRecord, FlagStore } from "./flags/flag-store.js";
export { FlagStream, type FlagStreamOptions } from "./flags/flag-stream.js";
export type { GuardedRollout, RolloutState } from "./flags/guarded-rollout-store.js";
export { GuardedRollouts, type RolloutView, type StartRollout } from "./flags/guarded-rollouts.js";
export { type StaleFlag, staleFlags, uniformState } from "./flags/stale-flags.js";
export { formatDuration } from "./format-duration.js";
export { MigrationMonitor, type MigrationView } from "./migration/migration-monitor.js";
export { freePort } from "./providers/free-port.js";
export { ProcessState } from "./providers/instance-process-state.js";
export { LocalInstance, type LocalInstanceSpec } from "./providers/local-instance.js";
export { LocalProvider } from "./providers/local-provider.js";
export { groupAlive, processAlive } from "./providers/process-alive.js";
export {
  type Instance,
  type InstanceRecord,
  InstancesNotReadyError,
  type Provider,
  type VersionSpec,
} from "./providers/provider.js";
export { StaticInstance } from "./providers/static-instance.js";
export { StaticProvider } from "./providers/static-provider.js";
export {
  RegionalControlPlane,
  type RegionalOptions,
  type RegionalStatus,
  type RegionTarget,
} from "./regional-control-plane.js";
export { IllegalTransitionError, ReleaseLifecycle, ReleaseStatus } from "./release/release-lifecycle.js";
export { instanceLogs, type LogTail } from "./release-logs.js";
export { AppMetrics, type ReleaseMetricsReport, releaseMetricsBody } from "./release-metrics/app-metrics.js";
export { fillQuery, type PrometheusSource, prometheusCount } from "./release-metrics/prometheus-count.js";
export { type VersionSet, versionOf } from "./release-recovery.js";
export { RouterAdmin, RouterAdminError } from "./router-admin.js";
export {
  parseServiceFile,
  type ServiceFile,
  type ServiceFileInput,
  serviceFileJsonSchema,
  serviceFileSchema,
} from "./service-file.js";
export { type EmbeddedDatabase, startEmbeddedDatabase } from "./state/embedded-database.js";
export { type DecisionRecord, type Release, ReleaseStore } from "./state/release-store.js";
export { pgClient, type SqlClient } from "./state/sql-client.js";
