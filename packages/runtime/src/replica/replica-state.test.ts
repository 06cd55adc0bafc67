import { describe, expect, it } from "vitest";
import { ReplicaState } from "./replica-state.js";

const MAX_LAG = { ms: 1000, bytes: 1_000_000 };
/** A check at `at` finding the replica `lagMs` stale. */
const check = (state: ReplicaState, at: number, lagMs: number, lagBytes = 0) =>
  state.observe({ completeAsOf: at - lagMs, at, replayLsn: BigInt(at), lagBytes });

describe("a replica's rotation state", () => {
  it("comes in on its first good check, leaves above maxLag, and comes back only after N checks below half of it", () => {
    const state = new ReplicaState("r1", MAX_LAG, { ratio: 0.5, checks: 3 });
    expect(state.status()).toMatchObject({ inRotation: false, reason: "unchecked" });
    expect(check(state, 1000, 10)).toBe("in");
    expect(check(state, 2000, 900)).toBeUndefined(); // within maxLag: stays
    expect(check(state, 3000, 1100)).toBe("out");
    expect(state.reason).toBe("lagging");
    // Hovering between half and all of maxLag: stays out.
    for (let at = 4000; at < 10_000; at += 1000) expect(check(state, at, 700)).toBeUndefined();
    expect(state.status()).toMatchObject({ inRotation: false, reason: "lagging", goodChecks: 0 });
    expect(check(state, 10_000, 100)).toBeUndefined();
    expect(check(state, 11_000, 100)).toBeUndefined();
    expect(state.reason).toBe("recovering");
    expect(check(state, 12_000, 600)).toBeUndefined(); // one above half: the count starts over
    expect(check(state, 13_000, 0)).toBeUndefined();
    expect(check(state, 14_000, 0)).toBeUndefined();
    expect(check(state, 15_000, 0)).toBe("in");
    expect(check(state, 16_000, 0, 2_000_000)).toBe("out"); // bytes count too
  });

  it("leaves at once on a failure, and is usable only while the staleness bound, which ages, is within maxLag", () => {
    const state = new ReplicaState("r1", MAX_LAG, { ratio: 0.5, checks: 2 });
    check(state, 1000, 200);
    expect(state.usable(1000)).toBe(true);
    expect(state.usable(1800)).toBe(true);
    expect(state.usable(1801)).toBe(false); // no check since: 200 ms stale then, over 1 s now
    expect(state.fail(new Error("ECONNREFUSED"))).toBe("out");
    expect(state.status()).toMatchObject({ inRotation: false, reason: "failed", lastError: "ECONNREFUSED" });
    expect(state.usable(1000)).toBe(false);
    expect(check(state, 2000, 0)).toBeUndefined();
    expect(check(state, 3000, 0)).toBe("in");
    expect(state.observe({ completeAsOf: undefined, at: 4000, replayLsn: 1n, lagBytes: 0 })).toBe("out");
    expect(state.replayLsn).toBe(3000n); // replay positions only move forward
  });
});
