// The shutdown part of @baton/runtime: its public exports only.
export {
  type GracefulShutdown,
  type GracefulShutdownOptions,
  gracefulShutdown,
  type ServerLike,
  type ShutdownReadiness,
  type ShutdownReport,
} from "./graceful-shutdown.js";
export type { OpenWork } from "./http-drain.js";
export type { HookOutcome, ShutdownHook } from "./shutdown-hooks.js";
export { jsonShutdownLogger, type ShutdownLogger, silentShutdownLogger } from "./shutdown-logger.js";
export type {
  DrainableWebSocket,
  WebSocketDrainOptions,
  WebSocketDrainResult,
  WebSocketServerLike,
} from "./websocket-drain.js";
