// Dual-write store migrations of @baton/runtime: its public exports only.
export type { BackfillProgress, BackfillProgressStore } from "./backfill-progress.js";
export { memoryBackfillProgress } from "./backfill-progress.js";
export {
  type AdvanceCheck,
  type BackfillOptions,
  type BackfillResult,
  type DualWrite,
  type DualWriteEvent,
  type DualWriteOptions,
  dualWrite,
  type FailureSample,
  type MismatchSample,
  type StoreSide,
} from "./dual-write.js";
export { DualWriteError, type DualWriteErrorCode, isDualWriteError } from "./dual-write-error.js";
export type { DualWritePhaseStats, DualWriteStats } from "./dual-write-stats.js";
export { type FlagPhaseOptions, flagPhase, type VariantClient } from "./flag-phase.js";
export {
  isMigrationPhase,
  type MigrationPhase,
  type MigrationPhaseName,
  PHASE_NAMES,
  parseMigrationPhase,
} from "./migration-phase.js";
export type { MigrationStore, ScanPage, StoredRecord } from "./migration-store.js";
export { pgBackfillProgress } from "./pg-backfill-progress.js";
export { type PgMigrationStore, type PgStoreOptions, type PgStorePool, pgStore } from "./pg-store.js";
export { redisBackfillProgress } from "./redis-backfill-progress.js";
export { type RedisCommands, type RedisStoreOptions, redisStore } from "./redis-store.js";
export { type StoreChecksum, storeChecksum } from "./store-checksum.js";
export { diffValues, type ValueDifference } from "./value-diff.js";
