import { DatabaseUnavailableError } from "./errors.js";
import { InstancesNotReadyError } from "./providers/provider.js";
import { RouterAdminError } from "./router-admin.js";

/** SQLSTATE classes of a lost or refused connection: 08 (connection), 57P (operator intervention). */
const TRANSIENT_SQLSTATE = /^(08|57P)/;
const TRANSIENT_MESSAGE =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated|connection (?:is )?closed|terminating connection|the database system is (?:starting up|shutting down)|timeout exceeded when trying to connect/i;

/**
 * Whether an error is one the release should wait out (the state database or the router gone for
 * a moment) rather than act on: the release keeps the router as it is and retries its step.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof InstancesNotReadyError) return false; // a verdict on the version, not a fault
  if (err instanceof DatabaseUnavailableError) return true;
  if (err instanceof RouterAdminError) return err.unreachable;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && TRANSIENT_SQLSTATE.test(e.code)) return true;
  return typeof e?.message === "string" && TRANSIENT_MESSAGE.test(e.message);
}
