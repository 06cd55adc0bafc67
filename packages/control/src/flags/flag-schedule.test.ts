import type { Flag } from "@baton/flags";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFlagApi } from "../test-support/flag-fixture.js";

let fx: Awaited<ReturnType<typeof startFlagApi>>;

const rolloutFlag = (name: string, percent: number): Flag => ({
  name,
  enabled: true,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(percent), stickiness: "userId", groupId: name },
    },
  ],
});

beforeAll(async () => {
  fx = await startFlagApi("flagsched");
});
afterAll(() => fx?.close());

describe("the reason of a flag change", () => {
  it("is kept in the history and the audit event, from the API and from FlagService", async () => {
    await fx.call("PUT", "/v1/flags/reasoned", rolloutFlag("reasoned", 10));
    const r = await fx.call("POST", "/v1/flags/reasoned/rollout", {
      percent: 20,
      actor: "ana",
      reason: "INC-42 is fixed",
    });
    expect(r.status).toBe(200);
    await fx.flags.setEnabled("reasoned", false, {
      actor: "guarded-rollout",
      reason: "error rate 0.071 > 0.02 + 0.02 allowed",
    });
    const history = (await fx.call("GET", "/v1/flags/reasoned/history")).body;
    expect(history.map((c: { reason: string | null }) => c.reason)).toEqual([
      "error rate 0.071 > 0.02 + 0.02 allowed",
      "INC-42 is fixed",
      null,
    ]);
    const events = (await fx.plane.audit.list(1000)).filter((e) => e.details?.flag === "reasoned");
    expect(events.map((e) => [e.actor, e.details?.reason])).toEqual([
      ["api", undefined],
      ["ana", "INC-42 is fixed"],
      ["guarded-rollout", "error rate 0.071 > 0.02 + 0.02 allowed"],
    ]);
    const bad = await fx.call("POST", "/v1/flags/reasoned/enable", { reason: "two\nlines" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("reason");
    expect((await fx.call("GET", "/v1/flags/reasoned")).body.flag.enabled).toBe(false);
  });
});
