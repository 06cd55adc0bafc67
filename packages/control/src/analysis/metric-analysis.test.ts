import { describe, expect, it } from "vitest";
import { parseServiceFile } from "../service-file.js";
import { binomial, prng } from "../test-support/canary-simulation.js";
import { analyzeRelease, type MetricEvidence } from "./analyze-release.js";
import { DEFAULT_ANALYSIS, type Sample } from "./canary-analysis.js";
import { analyzeMetric, type MetricCheck, type RateCheck } from "./metric-analysis.js";

const CHECKOUT: RateCheck = { name: "checkout_completed", per: "request", maxDecrease: 0.02 };
const healthy = (requests: number): Sample => ({
  requests,
  errors: Math.round(requests * 0.01),
  latencyBuckets: [[20, requests]],
});

/**
 * Looks once a second at cumulative counts of a canary and stable both at `rps` requests a
 * second, whose events per request are Bernoulli(pCanary) and Bernoulli(pStable); returns the
 * first decision that is not inconclusive, and when.
 */
function simulateRate(
  check: RateCheck,
  pCanary: number,
  pStable: number,
  seed: number,
  rps = 100,
  seconds = 300,
) {
  const rand = prng(seed);
  const t = { count: 0, requests: 0 };
  const c = { count: 0, requests: 0 };
  for (let s = 1; s <= seconds; s++) {
    t.requests += rps;
    c.requests += rps;
    t.count += binomial(rps, pCanary, rand);
    c.count += binomial(rps, pStable, rand);
    const v = analyzeMetric(check, { kind: "rate", ...t }, { kind: "rate", ...c }, 0.01 / 3, 1000);
    if (v.decision !== "inconclusive") return { decision: v.decision, second: s, reason: v.reason };
  }
  return { decision: "inconclusive" as const, second: seconds, reason: "" };
}

describe("business metrics in the analysis", () => {
  it("fails a canary whose checkouts per request fall by 10%, and names the metric with its numbers", () => {
    const seconds: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const r = simulateRate(CHECKOUT, 0.45, 0.5, seed);
      expect(r.decision, `seed ${seed}`).toBe("fail");
      seconds.push(r.second);
      if (seed === 1)
        expect(r.reason).toMatch(
          /^checkout_completed per request 0\.4\d* vs 0\.5\d* \(-\d.*%\), -2% allowed: decrease at least \d.*% at 99\.\d+% confidence, n=\d+\/\d+$/,
        );
    }
    seconds.sort((a, b) => a - b);
    // 100 requests/s a side: a 10% drop of a 50% rate is certain within about half a minute.
    expect(seconds[Math.floor(seconds.length / 2)]!).toBeLessThan(60);
  });

  it("rarely ever fails a canary that is equal, and passes one within a tolerance it can prove", () => {
    let fails = 0;
    for (let seed = 100; seed < 300; seed++) {
      const r = simulateRate(CHECKOUT, 0.5, 0.5, seed, 300, 200);
      if (r.decision === "fail") fails++;
    }
    // Budget 0.01/3 for the metric, at every one of 200 looks: 200 releases expect under one false alarm.
    expect(fails).toBeLessThanOrEqual(2);
    // Proving "at most 10% below" a 50% rate takes a few thousand requests a side (2% would take ~80,000).
    const loose: RateCheck = { ...CHECKOUT, maxDecrease: 0.1 };
    const seconds: number[] = [];
    for (let seed = 400; seed < 420; seed++) {
      const r = simulateRate(loose, 0.5, 0.5, seed);
      expect(r.decision, `seed ${seed}`).toBe("pass");
      seconds.push(r.second);
    }
    expect(Math.max(...seconds)).toBeLessThan(120);
  });

  it("reads a rate above one event per request as a count, and an increase tolerance the other way", () => {
    const check: MetricCheck = { name: "items_added", per: "request", maxIncrease: 0.05 };
    const stable = { kind: "rate" as const, count: 20_000, requests: 10_000 };
    expect(
      analyzeMetric(check, { kind: "rate", count: 26_000, requests: 10_000 }, stable, 0.003, 1000).decision,
    ).toBe("fail");
    expect(
      analyzeMetric(check, { kind: "rate", count: 20_050, requests: 10_000 }, stable, 0.003, 1000).decision,
    ).toBe("pass");
  });

  it("fails a quantile beyond its tolerance, and never passes on numbers it does not have", () => {
    const check: MetricCheck = { name: "payment_latency_ms", quantile: 0.95, maxIncrease: 50, minCount: 200 };
    const spread = (shift: number, n: number) =>
      Array.from({ length: 50 }, (_, i) => [100 + 4 * i + shift, n / 50] as [number, number]);
    const slow = analyzeMetric(
      check,
      { kind: "histogram", buckets: spread(120, 2000) },
      { kind: "histogram", buckets: spread(0, 2000) },
      0.003,
      1000,
    );
    expect(slow.decision).toBe("fail");
    expect(slow.reason).toMatch(
      /^payment_latency_ms p95 \d+ vs \d+ \+ 50 allowed: increase at least \d+.* at 99\.\d+% confidence \(canary above \d+, stable's at most \d+\), n=2000\/2000$/,
    );
    const same = analyzeMetric(
      check,
      { kind: "histogram", buckets: spread(0, 2000) },
      { kind: "histogram", buckets: spread(0, 2000) },
      0.003,
      1000,
    );
    expect(same.decision).toBe("pass");
    const down = analyzeMetric(
      check,
      { kind: "unavailable", why: "Prometheus at http://x: no answer in 2000 ms" },
      { kind: "histogram", buckets: [] },
      0.003,
      1000,
    );
    expect(down).toMatchObject({
      decision: "inconclusive",
      reason: "payment_latency_ms: Prometheus at http://x: no answer in 2000 ms",
    });
    const none = analyzeMetric(
      CHECKOUT,
      { kind: "rate", count: 0, requests: 5000 },
      { kind: "rate", count: 0, requests: 5000 },
      0.003,
      1000,
    );
    expect(none.decision).toBe("inconclusive");
    expect(none.reason).toContain('createReleaseMetrics().count("checkout_completed")');
  });

  it("judges the router's numbers and the metrics together: a metric failure fails the release, all must pass to pass", () => {
    const evidence = (canaryCount: number): MetricEvidence[] => [
      {
        check: CHECKOUT,
        treatment: { kind: "rate", count: canaryCount, requests: 5000 },
        control: { kind: "rate", count: 2500, requests: 5000 },
      },
    ];
    const bad = analyzeRelease(healthy(5000), healthy(5000), evidence(2250), DEFAULT_ANALYSIS);
    expect(bad.decision).toBe("fail");
    expect(bad.reason).toMatch(/^checkout_completed per request 0\.45 vs 0\.5 \(-10%\)/);
    expect(bad.errorRate.decision).toBe("pass");
    // Not `required`: a metric that cannot be proven within 2% yet does not hold the release...
    const good = analyzeRelease(healthy(5000), healthy(5000), evidence(2500), DEFAULT_ANALYSIS);
    expect(good.decision).toBe("pass");
    expect(good.metrics[0]!.decision).toBe("inconclusive");
    expect(good.reason).toMatch(
      /checkout_completed per request 0\.5 vs 0\.5 \(\+0%\), -2% allowed; not yet certain, n=5000\/5000 \(not required\)$/,
    );
    // ...but one whose estimate is worse than allowed holds it until it is certain either way.
    const worse: MetricEvidence[] = [
      {
        check: CHECKOUT,
        treatment: { kind: "rate", count: 45, requests: 100 },
        control: { kind: "rate", count: 50, requests: 100 },
      },
    ];
    const held = analyzeRelease(healthy(5000), healthy(5000), worse, DEFAULT_ANALYSIS);
    expect(held.decision).toBe("inconclusive");
    expect(held.reason).toMatch(
      /^error rate and latency passed; checkout_completed per request 0\.45 vs 0\.5 \(-10%\), -2% allowed; waiting for 1000 canary requests/,
    );
    // ...a required one does, and so does one whose source cannot answer.
    const required = evidence(2500).map((e) => ({ ...e, check: { ...CHECKOUT, required: true } }));
    expect(analyzeRelease(healthy(5000), healthy(5000), required, DEFAULT_ANALYSIS).decision).toBe(
      "inconclusive",
    );
    const unknown = analyzeRelease(
      healthy(5000),
      healthy(5000),
      [{ ...required[0]!, treatment: { kind: "unavailable", why: "down" } }],
      DEFAULT_ANALYSIS,
    );
    expect(unknown.decision).toBe("inconclusive");
    expect(unknown.reason).toBe("error rate and latency passed; checkout_completed: down");
  });

  it("parses analysis.metrics from baton.yaml and names each mistake where it is", () => {
    const base = "service: shop\nlisten: 8080\nrun: node server.js\nanalysis:\n";
    const file = parseServiceFile(
      `${base}  prometheus: { url: "http://127.0.0.1:9090" }\n  metrics:\n    - { name: checkout_completed, per: request, maxDecrease: 0.02 }\n    - { name: payment_latency_ms, quantile: 0.95, maxIncrease: 50 }\n    - { name: paid, per: request, maxDecrease: 0.05, query: 'sum(increase(paid_total{version="{{version}}"}[{{window}}]))' }\n`,
      "baton.yaml",
    );
    expect(file.analysis.metrics).toEqual([
      { name: "checkout_completed", per: "request", maxDecrease: 0.02 },
      { name: "payment_latency_ms", quantile: 0.95, minCount: 200, maxIncrease: 50 },
      {
        name: "paid",
        per: "request",
        maxDecrease: 0.05,
        query: 'sum(increase(paid_total{version="{{version}}"}[{{window}}]))',
      },
    ]);
    const bad = (metrics: string) => () => parseServiceFile(`${base}  metrics:\n${metrics}`, "baton.yaml");
    expect(bad("    - { name: checkout_completed, maxDecrease: 0.02 }\n")).toThrow(
      /analysis\.metrics\[0\]\.per.*per: request.*quantile/s,
    );
    expect(bad("    - { name: checkout_completed, per: request }\n")).toThrow(
      /analysis\.metrics\[0\]\.maxDecrease.*one tolerance/s,
    );
    expect(bad("    - { name: 9lives, per: request, maxDecrease: 0.1 }\n")).toThrow(
      /analysis\.metrics\[0\]\.name/,
    );
    expect(bad("    - { name: a, per: request, maxDecrease: 0.1, query: 'sum(a)' }\n")).toThrow(
      /\{\{version\}\}/,
    );
    expect(bad("    - { name: a, per: request, maxDecrease: 0.1, query: 'a{v=\"{{version}}\"}' }\n")).toThrow(
      /analysis\.prometheus\.url/,
    );
    expect(
      bad(
        "    - { name: a, per: request, maxDecrease: 0.1 }\n    - { name: a, quantile: 0.5, maxIncrease: 1 }\n",
      ),
    ).toThrow(/a is listed twice/);
  });
});
