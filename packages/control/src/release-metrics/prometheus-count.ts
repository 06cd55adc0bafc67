/** Where a metric with a `query` is read: `analysis.prometheus` of baton.yaml. */
export interface PrometheusSource {
  url: string;
  /** ms */
  timeout: number;
  /** ms into a step before queries are read (see baton.yaml's analysis.prometheus.settle). */
  settle: number;
}

/** The placeholders a query may use. */
export interface QueryScope {
  service: string;
  version: string;
  /** The analysis window, whole seconds. */
  windowSeconds: number;
}

/** Fills `{{version}}`, `{{service}}` and `{{window}}` in, quoted for a PromQL string where they sit in one. */
export function fillQuery(query: string, scope: QueryScope): string {
  // PromQL strings take Go's escapes; a version with a quote in it must not end the string early.
  const quoted = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/'/g, "\\'");
  return query
    .replaceAll("{{version}}", quoted(scope.version))
    .replaceAll("{{service}}", quoted(scope.service))
    .replaceAll("{{window}}", `${Math.max(1, Math.round(scope.windowSeconds))}s`);
}

/**
 * Runs an instant query and sums what it returns (a vector's samples, or a scalar): the count of
 * a metric's events in the window, e.g. `sum(increase(checkout_completed_total{version="{{version}}"}[{{window}}]))`.
 * An empty vector is 0 (no series yet); anything else wrong is thrown with Prometheus's own words.
 * `at` (ms) is the evaluation time.
 */
export async function prometheusCount(
  source: PrometheusSource,
  query: string,
  at = Date.now(),
): Promise<number> {
  const url = new URL("/api/v1/query", source.url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      // One evaluation time for every query of a look: increase() extrapolates to its window's
      // edges, so a count and its requests asked a few ms apart would not divide.
      body: new URLSearchParams({ query, time: (at / 1000).toFixed(3) }).toString(),
      signal: AbortSignal.timeout(source.timeout),
    });
  } catch (error) {
    const why =
      (error as Error).name === "TimeoutError"
        ? `no answer in ${source.timeout} ms`
        : (error as Error).message;
    throw new Error(`Prometheus at ${source.url}: ${why}`);
  }
  const text = await res.text();
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`Prometheus at ${source.url} answered ${res.status} with no JSON: ${text.slice(0, 200)}`);
  }
  if (body.status !== "success")
    throw new Error(
      `Prometheus refused the query (${res.status}): ${body.error ?? text.slice(0, 200)}; query: ${query}`,
    );
  const { resultType, result } = body.data ?? {};
  const value = (v: unknown) => {
    const x = Number((v as [number, string] | undefined)?.[1]);
    return Number.isFinite(x) ? x : 0;
  };
  if (resultType === "scalar") return value(result);
  if (resultType === "vector" && Array.isArray(result))
    return result.reduce((sum: number, s: { value?: unknown }) => sum + value(s.value), 0);
  throw new Error(
    `Prometheus answered a ${resultType} for ${query}; a count needs an instant vector or a scalar (wrap it in sum(...))`,
  );
}
