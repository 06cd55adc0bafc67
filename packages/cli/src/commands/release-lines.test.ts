import { describe, expect, it } from "vitest";
import { settingsLine } from "./release-lines.js";

describe("the settings line of `baton status`", () => {
  it("names the analysis's metrics with their tolerances", () => {
    const line = settingsLine({
      strategy: "canary",
      analysis: {
        minRequests: 200,
        metrics: [
          { name: "checkout_completed", per: "request", maxDecrease: 0.02 },
          { name: "paid", per: "request", maxIncrease: 0.1, query: "sum(x)" },
          { name: "payment_latency_ms", quantile: 0.95, maxIncrease: 50 },
        ],
      },
    });
    expect(line).toBe(
      "canary; analysis ≥200 requests, checkout_completed/request -2%, paid/request +10% (Prometheus), payment_latency_ms p95 +50",
    );
  });
});
