import { pino } from "pino";

/** The little the router needs of a logger; pino satisfies it, and so does a silent stub. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
}

/**
 * JSON lines on stdout, written synchronously: the router logs state changes, never per request,
 * so the cost is nil, and the last lines before a crash are never lost in a buffer.
 */
export function createLogger(level = process.env.BATON_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { component: "router" } }, pino.destination({ dest: 1, sync: true }));
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
