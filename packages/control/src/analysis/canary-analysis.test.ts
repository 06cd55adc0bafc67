import { describe, expect, it } from "vitest";
import { type Behaviour, FINE_BOUNDS, simulateStep } from "../test-support/canary-simulation.js";
import { type AnalysisConfig, analyzeCanary, DEFAULT_ANALYSIS } from "./canary-analysis.js";

const config = DEFAULT_ANALYSIS; // minRequests 1000, +0.02 errors, +200 ms p95, confidence 0.99
const healthy: Behaviour = { errorRate: 0.02, medianMs: 20, sigma: 0.6 };
// 10% canary at 1,000 requests/s: 100 canary and 900 stable requests per one-second look, for
// two minutes (a bounded horizon; the guarantee is for any horizon).
const traffic = { canaryPerLook: 100, stablePerLook: 900, looks: 120 };
const RUNS = 300;

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/**
 * The most failures out of `runs` that a false-failure rate of `rate` explains: the smallest k
 * with P(Binomial(runs, rate) > k) <= 0.001. A rule whose noise decides fails far more often.
 */
function allowedFailures(runs: number, rate: number): number {
  let cdf = 0;
  let pmf = (1 - rate) ** runs;
  for (let k = 0; k <= runs; k++) {
    cdf += pmf;
    if (1 - cdf <= 0.001) return k;
    pmf *= ((runs - k) / (k + 1)) * (rate / (1 - rate));
  }
  return runs;
}

/** Runs one scenario `runs` times; seeds differ per scenario so that cases do not share noise. */
function scenario(
  seed: number,
  canary: Behaviour,
  opts: Partial<typeof traffic> & {
    bounds?: readonly number[];
    stable?: Behaviour;
    config?: AnalysisConfig;
  } = {},
  runs = RUNS,
) {
  const failedAt: number[] = [];
  let passed = 0;
  for (let i = 0; i < runs; i++) {
    const r = simulateStep(seed + i, canary, opts.stable ?? healthy, opts.config ?? config, {
      ...traffic,
      ...opts,
    });
    if (r.failedAt >= 0) failedAt.push(r.failedAt);
    if (r.passedAt >= 0) passed++;
  }
  return { failedAt, failShare: failedAt.length / runs, passShare: passed / runs };
}

describe("canary analysis: canaries within the tolerance are failed at most at 1 - confidence", () => {
  const allowed = allowedFailures(RUNS, 1 - config.confidence);
  for (const points of [0, 0.5, 1, 1.5]) {
    it(`error rate 2% -> ${2 + points}% (+${points} of the 2 points allowed): at most ${allowed}/${RUNS} failed in two minutes`, () => {
      const r = scenario(100_000 * (points + 1), { ...healthy, errorRate: 0.02 + points / 100 });
      expect(r.failedAt.length).toBeLessThanOrEqual(allowed);
      // And the analysis says yes to what is comfortably within the tolerance.
      if (points <= 0.5) expect(r.passShare).toBeGreaterThan(0.9);
    });
  }

  it("holds at the tolerance itself and at a 10% baseline, the noisiest error rates", () => {
    const noisy = { ...healthy, errorRate: 0.1 };
    const r = scenario(700_000, { ...noisy, errorRate: 0.12 }, { stable: noisy });
    expect(r.failedAt.length).toBeLessThanOrEqual(allowed);
  });

  for (const shiftMs of [150, 195, 200]) {
    it(`p95 ${shiftMs} ms slower (200 allowed), on 2% histogram buckets: at most ${allowed}/${RUNS} failed`, () => {
      const r = scenario(
        800_000 + shiftMs * 1000,
        { ...healthy, shiftMs },
        { bounds: FINE_BOUNDS, looks: 60 },
      );
      expect(r.failedAt.length).toBeLessThanOrEqual(allowed);
    });
  }
});

describe("canary analysis: clearly worse canaries are stopped", () => {
  it("stops every canary 5 points worse (2% -> 7%), half within 10 s at 100 canary requests/s", () => {
    for (const [perLook, seed] of [
      [1, 900_000],
      [0.5, 950_000],
    ] as const) {
      const r = scenario(
        seed,
        { ...healthy, errorRate: 0.07 },
        { canaryPerLook: 100 * perLook, stablePerLook: 900 * perLook, looks: 60 / perLook },
        200,
      );
      expect(r.failedAt.length).toBe(200);
      const seconds = r.failedAt.map((n) => n / 100);
      expect(percentile(seconds, 0.5)).toBeLessThanOrEqual(10);
      // Not 10 s: even a fixed-sample test at this level needs ~13 s for 95% power (see the bench).
      expect(percentile(seconds, 0.95)).toBeLessThanOrEqual(20);
    }
  });

  it("stops canaries 2.5 and 3 points worse only sometimes within two minutes: between the tolerance and clearly worse", () => {
    const shares = [0.025, 0.03].map(
      (d, i) => scenario(1_000_000 + i * 1000, { ...healthy, errorRate: 0.02 + d }).failShare,
    );
    console.info(`fail share in 120 s: +2.5 points ${shares[0]}, +3 points ${shares[1]}`);
    expect(shares[1]!).toBeGreaterThanOrEqual(shares[0]!);
  });

  it("fails a canary whose p95 is 300 ms slower within its first seconds, and says so with the numbers", () => {
    const r = scenario(1_100_000, { ...healthy, shiftMs: 300 }, { bounds: FINE_BOUNDS, looks: 10 }, 50);
    expect(r.failedAt.length).toBe(50);
    expect(Math.max(...r.failedAt)).toBeLessThanOrEqual(300);
    const one = simulateStep(42, { ...healthy, shiftMs: 300 }, healthy, config, { ...traffic, looks: 10 });
    expect(one.firstFail!.reason).toMatch(
      /^p95 latency \d+(\.\d+)?ms > \d+(\.\d+)?ms \+ 200ms allowed \(increase at least \d+(\.\d+)?ms at 99% confidence/,
    );
  });
});

describe("canary analysis: verdicts", () => {
  it("never passes on too little traffic, and says why with the numbers", () => {
    const v = analyzeCanary(
      { requests: 20, errors: 0, latencyBuckets: [[10, 20]] },
      { requests: 2000, errors: 10, latencyBuckets: [[10, 2000]] },
    );
    expect(v.decision).toBe("inconclusive");
    expect(v.reason).toContain("too little traffic to judge: n=20/2000");
    expect(v.waitingFor).toEqual({ requests: 980, reason: "1000 canary requests before a pass" });
    const w = analyzeCanary(
      { requests: 500, errors: 4, latencyBuckets: [[10, 500]] },
      { requests: 5000, errors: 40, latencyBuckets: [[10, 5000]] },
    );
    expect(w.decision).toBe("inconclusive");
    expect(w.reason).toContain("waiting for 1000 canary requests");
    expect(w.waitingFor?.requests).toBe(500);
  });

  it("says how much more traffic a pass needs, and that none will do when the increase is beyond the tolerance", () => {
    const close = analyzeCanary(
      { requests: 2000, errors: 64, latencyBuckets: [[10, 2000]] },
      { requests: 18_000, errors: 360, latencyBuckets: [[10, 18_000]] },
    );
    expect(close.decision).toBe("inconclusive");
    expect(close.waitingFor!.reason).toMatch(/^the error rate increase's upper bound to fall below 0\.02/);
    // Check the estimate: that much more traffic at the same rates does pass.
    const more = close.waitingFor!.requests;
    expect(more).toBeGreaterThan(1000);
    const later = (f: number) =>
      analyzeCanary(
        {
          requests: Math.round(2000 * f),
          errors: Math.round(64 * f),
          latencyBuckets: [[10, Math.round(2000 * f)]],
        },
        {
          requests: Math.round(18_000 * f),
          errors: Math.round(360 * f),
          latencyBuckets: [[10, Math.round(18_000 * f)]],
        },
      ).decision;
    expect(later(1 + (more * 1.05) / 2000)).toBe("pass");
    expect(later(1 + (more * 0.8) / 2000)).toBe("inconclusive");

    const over = analyzeCanary(
      { requests: 2000, errors: 90, latencyBuckets: [[10, 2000]] },
      { requests: 18_000, errors: 360, latencyBuckets: [[10, 18_000]] },
    );
    expect(over.decision).toBe("inconclusive");
    expect(over.waitingFor!.requests).toBe(Number.POSITIVE_INFINITY);
    expect(over.waitingFor!.reason).toContain("no amount of traffic passes that");
  });

  it("explains a failure the way an operator reads it", () => {
    const v = analyzeCanary(
      { requests: 1840, errors: 131, latencyBuckets: [[10, 1840]] },
      { requests: 16_560, errors: 331, latencyBuckets: [[10, 16_560]] },
    );
    expect(v.decision).toBe("fail");
    expect(v.waitingFor).toBeUndefined();
    expect(v.reason).toMatch(
      /^error rate 0\.0712 > 0\.02 \+ 0\.02 allowed \(increase at least 0\.0\d+ at 99% confidence\), n=1840\/16560$/,
    );
    expect(v.errorRate.lower).toBeGreaterThan(0.02);
  });
});
