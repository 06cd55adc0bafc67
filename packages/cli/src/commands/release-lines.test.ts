import { expect, it, describe as suite } from "vitest";
import { auditWarning, describe, type ReleaseView, settingsLine, warmLine } from "./release-lines.js";

const release = (fields: Partial<ReleaseView>): ReleaseView =>
  ({
    id: 7,
    version: "v1",
    previousVersion: "v2",
    strategy: "canary",
    status: "succeeded",
    reason: null,
    ...fields,
  }) as ReleaseView;

suite("how releases are printed", () => {
  it("shows a rollback as a rollback, from the field or (older control planes) the strategy", () => {
    expect(describe(release({ rollbackOf: "v2", strategy: "canary" }))).toBe(
      "7: rollback of v2 → v1 (canary) succeeded",
    );
    // An older control plane sends no rollbackOf; its instant rollbacks have strategy "rollback".
    expect(describe(release({ strategy: "rollback" }))).toBe("7: rollback of v2 → v1 (rollback) succeeded");
    expect(describe(release({ rollbackOf: null, version: "v3" }))).toBe("7: v3 (canary from v2) succeeded");
  });

  it("prints the settings a release used in one line, durations as durations", () => {
    const line = settingsLine({
      instances: 3,
      strategy: "canary",
      canary: { steps: [{ weight: 10, pause: 30_000 }, { weight: 50 }, { weight: 100 }] },
      analysis: { minRequests: 1000, maxErrorRateIncrease: 0.02, maxP95IncreaseMs: 200, confidence: 0.99 },
      keepPreviousFor: 900_000,
      drain: { timeout: 30_000, preStop: 2000 },
    });
    expect(line).toBe(
      "canary 10% 30s → 50% until promoted → 100%; 3 instances; analysis ≥1000 requests, errors +2 pts, p95 +200ms, 99% confidence; previous kept 15m; drain 30s",
    );
    expect(
      settingsLine({ strategy: "rolling", rolling: { maxSurge: 1, minReady: 5000, judgeFor: 30_000 } }),
    ).toBe("rolling maxSurge 1, minReady 5s, judgeFor 30s");
    // Absent or unknown fields (an older or newer control plane) are no error.
    expect(settingsLine({})).toBe("");
    expect(settingsLine({ strategy: "rollback", switch: "one swap" })).toBe("rollback; switch one swap");
  });

  it("says loudly when the audit chain is broken, and how long a version stays warm", () => {
    expect(auditWarning({ ok: false, problem: "event 2: changed" })).toBe(
      "WARNING: THE AUDIT CHAIN IS BROKEN: event 2: changed (baton audit verify lists every broken event)",
    );
    const until = new Date(Date.now() + 600_200).toISOString();
    expect(warmLine({ version: "v2", until })).toMatch(/^v2 kept warm for another 10m \(until /);
  });
});
