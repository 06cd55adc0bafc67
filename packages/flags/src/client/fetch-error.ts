/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, a reset, a timeout) is its cause. */
export function fetchError(what: string, error: unknown): Error {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
  return new Error(`${what} failed: ${reason}`, { cause: error });
}
