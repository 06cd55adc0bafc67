import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSalt, stickyBucket } from "./sticky-bucket.js";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { type RouterFixture, startRouter, versionsFor } from "./test-support/router-fixture.js";

const service = (
  canaryWeight: number,
  extra: Record<string, unknown> = {},
  canaryExtra: Record<string, unknown> = {},
) => ({
  name: "payments",
  stickiness: { header: "x-user-id", cookie: "baton_uid" },
  tracks: {
    stable: { version: "v1", weight: 10_000 - canaryWeight, instances: [stable.address] },
    canary: { version: "v2", weight: canaryWeight, instances: [canary.address], ...canaryExtra },
  },
  ...extra,
});

let stable: EchoInstance;
let canary: EchoInstance;
let fx: RouterFixture;

beforeAll(async () => {
  [stable, canary] = await Promise.all([
    startEcho({ BATON_VERSION: "v1" }),
    startEcho({ BATON_VERSION: "v2" }),
  ]);
  fx = await startRouter([service(1000)]);
});
afterAll(async () => {
  await fx?.close();
  await Promise.all([stable?.stop(), canary?.stop()]);
});

describe("sticky weighted split", () => {
  it("sends 10% +/- 1pp of 100k distinct users to a 10% canary, every response naming its version", async () => {
    // The canary's share of users is decided by the sticky bucket alone (stable takes buckets
    // [0, 9000), the canary [9000, 10000): config order). 100k users by that decision, and 20k of
    // them through the router, each answered by the version the decision names.
    const salt = serviceSalt("payments");
    const decided = (i: number) => (stickyBucket(`user-${i}`, salt) < 9_000 ? "v1" : "v2");
    const all = Array.from({ length: 100_000 }, (_, i) => decided(i));
    expect(Math.abs(all.filter((v) => v === "v2").length / all.length - 0.1)).toBeLessThanOrEqual(0.01);
    const versions = await versionsFor(fx.url, 20_000, (i) => ({ "x-user-id": `user-${i}` }));
    const share = versions.filter((v) => v === "v2").length / versions.length;
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.01);
    expect(versions.every((v) => v === "v1" || v === "v2")).toBe(true);
    expect(versions.filter((v, i) => v !== decided(i))).toEqual([]);
  }, 120_000);

  it("keeps each user on one version, and raising the canary only moves users stable -> canary", async () => {
    const users = 5_000;
    const before = await versionsFor(fx.url, users, (i) => ({ "x-user-id": `user-${i}` }));
    const again = await versionsFor(fx.url, users, (i) => ({ "x-user-id": `user-${i}` }));
    expect(again).toEqual(before);

    expect((await fx.admin("PUT", "/v1/services/payments", service(3000))).status).toBe(200);
    const after = await versionsFor(fx.url, users, (i) => ({ "x-user-id": `user-${i}` }));
    let backToStable = 0;
    let moved = 0;
    for (let i = 0; i < users; i++) {
      if (before[i] === "v2" && after[i] === "v1") backToStable++;
      if (before[i] === "v1" && after[i] === "v2") moved++;
    }
    expect(backToStable).toBe(0);
    expect(moved / users).toBeGreaterThan(0.15); // about 20% of users joined the canary
    expect(Math.abs(after.filter((v) => v === "v2").length / users - 0.3)).toBeLessThan(0.03);

    // Lowering it again only moves users back the same way, so a user's history stays simple.
    await fx.admin("PUT", "/v1/services/payments", service(1000));
    expect(await versionsFor(fx.url, users, (i) => ({ "x-user-id": `user-${i}` }))).toEqual(before);
  }, 60_000);

  it("uses the cookie when the header is absent, and the client address when both are (assign: address)", async () => {
    const viaCookie = await versionsFor(fx.url, 2000, (i) => ({ cookie: `a=1; baton_uid=user-${i}` }));
    const viaHeader = await versionsFor(fx.url, 2000, (i) => ({ "x-user-id": `user-${i}` }));
    expect(viaCookie).toEqual(viaHeader);
    const addressMode = service(1000, {
      stickiness: { header: "x-user-id", cookie: "baton_uid", assign: "address" },
    });
    expect((await fx.admin("PUT", "/v1/services/payments", addressMode)).status).toBe(200);
    const anonymous = await versionsFor(fx.url, 200, () => ({}));
    expect(new Set(anonymous).size).toBe(1); // one client address: one bucket
    await fx.admin("PUT", "/v1/services/payments", service(1000));
  });

  it("honours the x-baton-track override and per-track allow-lists", async () => {
    const users = await versionsFor(fx.url, 200, (i) => ({ "x-user-id": `user-${i}` }));
    const stableUser = `user-${users.indexOf("v1")}`;
    // Without the service's token the header is ignored: no client picks a track at will.
    const ask = async (headers: Record<string, string>) => {
      const res = await request(fx.url, { headers: { "x-user-id": stableUser, ...headers } });
      await res.body.dump();
      return res.headers["x-baton-version"];
    };
    expect(await ask({ "x-baton-track": "canary" })).toBe("v1");
    const token = "a-token-of-16-chars-or-more";
    await fx.admin("PUT", "/v1/services/payments", { ...service(1000), trackOverride: { token } });
    expect(await ask({ "x-baton-track": "canary" })).toBe("v1");
    expect(await ask({ "x-baton-track": "canary", "x-baton-track-token": "wrong-token-of-16-chars" })).toBe(
      "v1",
    );
    expect(await ask({ "x-baton-track": "canary", "x-baton-track-token": token })).toBe("v2");

    await fx.admin("PUT", "/v1/services/payments", service(1000, {}, { allow: [stableUser] }));
    const allowed = await request(fx.url, { headers: { "x-user-id": stableUser } });
    await allowed.body.dump();
    expect(allowed.headers["x-baton-version"]).toBe("v2");
    await fx.admin("PUT", "/v1/services/payments", service(1000));
  });
});
