import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";
import { MAX_FAILED_LOGINS } from "./login-attempts.js";

let fx: Awaited<ReturnType<typeof startDashboardApi>>;
beforeAll(async () => {
  fx = await startDashboardApi("dashboard_logins");
});
afterAll(async () => fx?.close());

const login = (body: object) => fx.send("POST", "/v1/session", { body, headers: { origin: fx.api.url } });

describe("guessing sign-ins", () => {
  it("makes an address that failed too often wait, naming when, whatever it sends next", async () => {
    for (let i = 0; i < MAX_FAILED_LOGINS; i++) {
      const wrong = await login(i % 2 ? { token: `wrong-${i}` } : { code: `guess-${i}` });
      expect(wrong.status).toBe(401);
    }
    const blocked = await login({ code: "one-more-guess" });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toMatchObject({
      code: "BATON_TOO_MANY_LOGINS",
      message: expect.stringMatching(/^20 failed sign-ins from \S+ within a minute: try again in \d+ s$/),
    });
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(0);
    // Even the right token waits: the point is that guesses stop, not that a guess is told apart.
    expect((await login({ token: DASHBOARD_TOKEN })).status).toBe(429);
    // The bearer token itself (CLI, CI) is not a sign-in and is not held up.
    expect((await fx.send("GET", "/v1/status", { bearer: DASHBOARD_TOKEN })).status).toBe(200);
  });
});
