import { describe, expect, it } from "vitest";
import { DashboardSessions } from "./dashboard-sessions.js";

describe("dashboard sessions", () => {
  it("keep only digests, expire sessions and codes on time, and spend a code at its first use", () => {
    let now = 1_000_000;
    const sessions = new DashboardSessions({ sessionMs: 60_000, codeMs: 5_000, now: () => now });
    const { id, session } = sessions.create();
    expect(sessions.get(id)).toBe(session);
    expect(JSON.stringify([...(sessions as any).sessions.keys()])).not.toContain(id);
    now += 59_999;
    expect(sessions.get(id)).toBe(session);
    now += 1;
    expect(sessions.get(id)).toBeUndefined();

    const late = sessions.issueCode();
    const once = sessions.issueCode();
    expect(JSON.stringify([...(sessions as any).codes.keys()])).not.toContain(once);
    expect(sessions.redeemCode(once)).toBe(true);
    expect(sessions.redeemCode(once)).toBe(false);
    now += 5_000;
    expect(sessions.redeemCode(late)).toBe(false);
    expect(sessions.redeemCode("")).toBe(false);
  });

  it("stay bounded: the session closest to its end and the oldest code give way", () => {
    const sessions = new DashboardSessions({ maxSessions: 3, maxCodes: 2 });
    const ids = Array.from({ length: 4 }, () => sessions.create().id);
    expect(sessions.size).toBe(3);
    expect(sessions.get(ids[0])).toBeUndefined();
    expect(sessions.get(ids[3])).toBeDefined();
    const codes = [sessions.issueCode(), sessions.issueCode(), sessions.issueCode()];
    expect(sessions.redeemCode(codes[0]!)).toBe(false);
    expect(sessions.redeemCode(codes[2]!)).toBe(true);
  });
});
