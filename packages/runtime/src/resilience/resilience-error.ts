/**
 * What went wrong with a protected call, as a stable code a caller can branch on:
 *
 * - `BATON_CIRCUIT_OPEN`: the breaker is open; the call was refused without being made.
 * - `BATON_BULKHEAD_FULL`: every slot and queue place was taken; the call was refused.
 * - `BATON_TIMEOUT`: an attempt took longer than its timeout and was aborted.
 * - `BATON_FETCH_FAILED`: the request failed on the network (refused, reset, DNS...).
 */
export type ResilienceErrorCode =
  | "BATON_CIRCUIT_OPEN"
  | "BATON_BULKHEAD_FULL"
  | "BATON_TIMEOUT"
  | "BATON_FETCH_FAILED";

/**
 * The error a resilience policy raises. The message names the dependency and says what happened
 * and what comes next ("payments-api: circuit open since 12:03:04 after 5 consecutive failures;
 * retry in 8s"); the original error, if any, is the `cause`.
 */
export class ResilienceError extends Error {
  override readonly name = "ResilienceError";
  /** Stable: safe to compare against. */
  readonly code: ResilienceErrorCode;
  /** The policy's name: the dependency called ("payments-api"). */
  readonly target: string;
  /** 1-based attempt this error ended, when it ended one. */
  readonly attempt: number | undefined;
  /** For `BATON_CIRCUIT_OPEN`: how long until the breaker lets a trial call through. */
  readonly retryInMs: number | undefined;

  constructor(
    code: ResilienceErrorCode,
    target: string,
    message: string,
    extra: { cause?: unknown; attempt?: number; retryInMs?: number } = {},
  ) {
    super(`${target}: ${message}`, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.target = target;
    this.attempt = extra.attempt;
    this.retryInMs = extra.retryInMs;
  }
}

/** True for a `ResilienceError` with this code (or any code when none is given). */
export function isResilienceError(error: unknown, code?: ResilienceErrorCode): error is ResilienceError {
  return error instanceof ResilienceError && (code === undefined || error.code === code);
}
