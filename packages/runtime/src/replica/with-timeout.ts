/** A query to a database that took longer than its bound; the caller moved on without it. */
export class ReplicaTimeoutError extends Error {
  override readonly name = "ReplicaTimeoutError";
  readonly code = "BATON_TIMEOUT";
}

/**
 * `promise`, or a `ReplicaTimeoutError` naming `what` after `ms`. A server that hangs (a stopped
 * process, a dropped network) holds the query open far longer than anyone waits for a read: the
 * late result or error is swallowed so it never surfaces as an unhandled rejection.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ReplicaTimeoutError(`${what}: no answer in ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
