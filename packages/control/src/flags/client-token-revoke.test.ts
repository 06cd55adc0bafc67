import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFlagApi } from "../test-support/flag-fixture.js";

let fx: Awaited<ReturnType<typeof startFlagApi>>;
beforeAll(async () => {
  fx = await startFlagApi("tokrevoke");
});
afterAll(async () => {
  await fx?.close();
});

describe("revoking a client token", () => {
  it("refuses the token from the next request on, records who revoked it, and names an unknown one", async () => {
    const made = (await fx.call("POST", "/v1/flags/tokens", { name: "leaked", actor: "ops" })).body;
    const other = (await fx.call("POST", "/v1/flags/tokens", { name: "kept", actor: "ops" })).body;
    expect((await fx.call("GET", "/api/client/features", undefined, {}, made.token)).status).toBe(200);

    const revoked = await fx.call("DELETE", "/v1/flags/tokens/leaked", { actor: "ops" });
    expect(revoked).toMatchObject({ status: 200, body: { name: "leaked", revoked: true } });
    expect((await fx.call("GET", "/api/client/features", undefined, {}, made.token)).status).toBe(401);
    expect(
      (await fx.call("POST", "/api/client/outcomes", { appName: "x", flags: {} }, {}, made.token)).status,
    ).toBe(401);
    // Another token is untouched; the list no longer has the revoked one.
    expect((await fx.call("GET", "/api/client/features", undefined, {}, other.token)).status).toBe(200);
    expect((await fx.call("GET", "/v1/flags/tokens")).body.map((t: { name: string }) => t.name)).toEqual([
      "kept",
    ]);

    const again = await fx.call("DELETE", "/v1/flags/tokens/leaked", {});
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({ code: "BATON_UNKNOWN_FLAG_TOKEN" });
    expect(again.body.error.message).toMatch(/no client token is named leaked/);
    expect((await fx.call("DELETE", "/v1/flags/tokens/bad%20name", {})).status).toBe(400);
    // Only the admin token revokes.
    expect((await fx.call("DELETE", "/v1/flags/tokens/kept", {}, {}, other.token)).status).toBe(401);

    const events = (await fx.plane.audit.list(1000)).filter((e) => e.action.startsWith("flag.token-"));
    expect(events.map((e) => [e.action, e.actor, e.details?.token])).toEqual([
      ["flag.token-created", "ops", "leaked"],
      ["flag.token-created", "ops", "kept"],
      ["flag.token-revoked", "ops", "leaked"],
    ]);
  });
});
