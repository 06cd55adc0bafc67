/**
 * Where graceful shutdown says what it does. `console` fits, and so does any logger with
 * `info`, `warn` and `error` taking a message and an object (wrap pino, whose order is reversed).
 */
export interface ShutdownLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The default: one JSON object a line on stderr (`{"time":…,"level":"info","msg":…,…fields}`),
 * written synchronously, so that the last lines before `process.exit` are not lost.
 */
export const jsonShutdownLogger: ShutdownLogger = {
  info: (message, fields) => writeLine("info", message, fields),
  warn: (message, fields) => writeLine("warn", message, fields),
  error: (message, fields) => writeLine("error", message, fields),
};

/** Says nothing (tests, or a service that reports through the returned `ShutdownReport`). */
export const silentShutdownLogger: ShutdownLogger = { info() {}, warn() {}, error() {} };

function writeLine(level: string, msg: string, fields?: Record<string, unknown>): void {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    msg,
    component: "shutdown",
    ...fields,
  });
  process.stderr.write(`${line}\n`);
}
