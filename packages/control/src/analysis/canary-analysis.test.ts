import { describe, expect, it } from "vitest";
import { type Behaviour, simulateStep } from "../test-support/canary-simulation.js";
import { analyzeCanary, DEFAULT_ANALYSIS } from "./canary-analysis.js";

const config = DEFAULT_ANALYSIS; // minRequests 1000, +0.02 errors, +200 ms p95, confidence 0.99
const healthy: Behaviour = { errorRate: 0.01, medianMs: 20, sigma: 0.6 };
// 10% canary at 1,000 requests/s: 100 canary and 900 stable requests per one-second look.
const traffic = { canaryPerLook: 100, stablePerLook: 900, looks: 60 };

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

describe("canary analysis", () => {
  it("A/A: 2,000 canaries identical to stable, looked at every second for a minute, are failed at most at the design rate (1%)", () => {
    const runs = 2000;
    let falseAlarms = 0;
    let passed = 0;
    for (let i = 0; i < runs; i++) {
      const r = simulateStep(1000 + i, healthy, healthy, config, traffic);
      if (r.failedAt >= 0) falseAlarms++;
      if (r.passedAt >= 0) passed++;
    }
    // Design rate 1 - confidence = 0.01; allow three standard errors of simulation noise.
    expect(falseAlarms / runs).toBeLessThanOrEqual(0.01 + 3 * Math.sqrt((0.01 * 0.99) / runs));
    // And the test has power to say yes: most healthy canaries pass within the minute.
    expect(passed / runs).toBeGreaterThan(0.9);
  }, 60_000);

  it("A/A holds at the worst case for error rates too: a 10% baseline error rate", () => {
    const noisy: Behaviour = { ...healthy, errorRate: 0.1 };
    let falseAlarms = 0;
    for (let i = 0; i < 1000; i++)
      if (simulateStep(5000 + i, noisy, noisy, config, traffic).failedAt >= 0) falseAlarms++;
    expect(falseAlarms / 1000).toBeLessThanOrEqual(0.01 + 3 * Math.sqrt((0.01 * 0.99) / 1000));
  }, 60_000);

  it("stops every canary 5 points worse: half within 400 canary requests, 99% within 800, all within 1,000", () => {
    const bad: Behaviour = { ...healthy, errorRate: 0.06 };
    const stoppedAt: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const r = simulateStep(9000 + i, bad, healthy, config, traffic);
      expect(r.failedAt, `run ${i}`).toBeGreaterThan(0);
      stoppedAt.push(r.failedAt);
    }
    // At 10% of 1,000 req/s that is 4 s, 8 s and 10 s of canary traffic.
    expect(percentile(stoppedAt, 0.5)).toBeLessThanOrEqual(400);
    expect(percentile(stoppedAt, 0.99)).toBeLessThanOrEqual(800);
    expect(Math.max(...stoppedAt)).toBeLessThanOrEqual(1000);
  }, 60_000);

  it("fails a canary whose p95 is 300 ms slower, and not one 50 ms slower", () => {
    const slow = simulateStep(42, { ...healthy, shiftMs: 300 }, healthy, config, traffic);
    expect(slow.failedAt).toBeGreaterThan(0);
    expect(slow.firstFail!.reason).toMatch(/^p95 latency \d+(\.\d+)?ms > \d+(\.\d+)?ms \+ 200ms/);
    const bitSlower = simulateStep(43, { ...healthy, shiftMs: 50 }, healthy, config, traffic);
    expect(bitSlower.failedAt).toBe(-1);
  });

  it("never passes on too little traffic, and says why with the numbers", () => {
    const v = analyzeCanary(
      { requests: 20, errors: 0, latencyBuckets: [[10, 20]] },
      { requests: 2000, errors: 10, latencyBuckets: [[10, 2000]] },
    );
    expect(v.decision).toBe("inconclusive");
    expect(v.reason).toContain("too little traffic to judge: n=20/2000");
    const w = analyzeCanary(
      { requests: 500, errors: 4, latencyBuckets: [[10, 500]] },
      { requests: 5000, errors: 40, latencyBuckets: [[10, 5000]] },
    );
    expect(w.decision).toBe("inconclusive");
    expect(w.reason).toContain("waiting for 1000 canary requests");
  });

  it("explains a failure the way an operator reads it", () => {
    const v = analyzeCanary(
      { requests: 1840, errors: 150, latencyBuckets: [[10, 1840]] },
      { requests: 16_000, errors: 832, latencyBuckets: [[10, 16_000]] },
    );
    expect(v.decision).toBe("fail");
    expect(v.reason).toMatch(
      /^error rate 0\.0815 > 0\.052 \+ 0\.02 \(increase at least 0\.00\d+ at 99% confidence\), n=1840\/16000$/,
    );
  });
});
