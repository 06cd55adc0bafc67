import { z } from "zod";
import type { MetricCheck } from "./metric-analysis.js";

/** Metric names as Prometheus spells them (and the runtime SDK accepts). */
/** A metric's name, as Prometheus spells them (the SDK checks the same rule before it sends). */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/;

/**
 * One entry of `analysis.metrics`, e.g. `{ name: checkout_completed, per: request, maxDecrease:
 * 0.02 }` or `{ name: payment_latency_ms, quantile: 0.95, maxIncrease: 50 }`, parsed into a
 * `MetricCheck` with every mistake named at its path.
 */
export const metricCheckSchema = z
  .strictObject({
    name: z
      .string()
      .regex(METRIC_NAME, "letters, digits, _ and :, not starting with a digit, at most 200 characters")
      .describe("The metric, as the service reports it with @baton/runtime (or as reasons call a query)."),
    per: z
      .literal("request")
      .optional()
      .describe("A count per request: the metric's events divided by the version's requests."),
    quantile: z.number().gt(0).lt(1).optional().describe("A quantile of a histogram metric, e.g. 0.95."),
    maxDecrease: z
      .number()
      .min(0)
      .optional()
      .describe(
        "Largest acceptable decrease of the new version: relative for `per: request` (0.02 = 2% below the old rate), in the metric's unit for a quantile.",
      ),
    maxIncrease: z
      .number()
      .min(0)
      .optional()
      .describe("Largest acceptable increase of the new version, as for maxDecrease."),
    query: z
      .string()
      .min(1)
      .max(4000)
      .optional()
      .describe(
        "PromQL for the metric's count over the analysis window, read from analysis.prometheus instead of the SDK; `{{version}}`, `{{service}}` and `{{window}}` (e.g. 37s) are filled in. Needs `per: request`.",
      ),
    required: z
      .boolean()
      .default(false)
      .describe(
        "Whether a step waits until this metric is shown within its tolerance (true), or only stops when it is shown beyond it (false: a tight tolerance on a rare event would otherwise hold every release for long).",
      ),
    requestsQuery: z
      .string()
      .min(1)
      .max(4000)
      .optional()
      .describe(
        "PromQL for the version's requests over the same window, dividing `query` instead of the router's own count: a ratio of two series scraped at the same moments is not skewed by scrape lag or by increase()'s extrapolation at a series' start.",
      ),
    minCount: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Quantiles: observations the new version needs before the metric may pass (default 200)."),
  })
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if ((m.per === undefined) === (m.quantile === undefined))
      issue(
        "per",
        "say what to judge: `per: request` (a count per request) or `quantile: 0.95` (a histogram), one of the two",
      );
    if ((m.maxDecrease === undefined) === (m.maxIncrease === undefined))
      issue("maxDecrease", "give one tolerance: maxDecrease or maxIncrease");
    if (m.per !== undefined && (m.maxDecrease ?? 0) >= 1)
      issue(
        "maxDecrease",
        "a relative decrease of 1 (100%) or more allows anything; use a fraction such as 0.02",
      );
    if (m.query !== undefined && m.per === undefined)
      issue(
        "query",
        "a Prometheus query gives a count, so it needs `per: request` (quantiles come from the SDK's histograms)",
      );
    if (m.query !== undefined && !m.query.includes("{{version}}"))
      issue(
        "query",
        "the query must select one version with {{version}}, or both sides would read the same number",
      );
    if (m.minCount !== undefined && m.quantile === undefined) issue("minCount", "minCount is for quantiles");
    if (m.requestsQuery !== undefined && m.query === undefined)
      issue(
        "requestsQuery",
        "requestsQuery divides a `query`; without one, the SDK's counts are divided by the router's requests",
      );
    if (m.requestsQuery !== undefined && !m.requestsQuery.includes("{{version}}"))
      issue("requestsQuery", "the query must select one version with {{version}}");
  })
  .transform((m): MetricCheck => {
    const tolerance =
      m.maxDecrease !== undefined ? { maxDecrease: m.maxDecrease } : { maxIncrease: m.maxIncrease ?? 0 };
    const required = m.required ? { required: true } : {};
    if (m.per)
      return {
        name: m.name,
        per: "request",
        ...tolerance,
        ...required,
        ...(m.query ? { query: m.query } : {}),
        ...(m.requestsQuery ? { requestsQuery: m.requestsQuery } : {}),
      };
    return {
      name: m.name,
      quantile: m.quantile ?? 0.95,
      minCount: m.minCount ?? 200,
      ...tolerance,
      ...required,
    };
  });

/** Two metrics of one name would be reported as one: refused. */
export function uniqueNames(metrics: readonly { name: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  metrics.forEach((m, i) => {
    if (seen.has(m.name))
      ctx.addIssue({ code: "custom", path: [i, "name"], message: `${m.name} is listed twice` });
    seen.add(m.name);
  });
}
