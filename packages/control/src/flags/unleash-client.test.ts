import { once } from "node:events";
import { createRequire } from "node:module";
import { type Flag, type FlagContext, type FlagState, getVariant, isEnabled } from "@baton/flags";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFlagApi } from "../test-support/flag-fixture.js";

/**
 * The real `unleash-client` from npm (6.12.1, in its streaming mode) pointed at Baton's client API:
 * it gets the flags, a change pushed over server-sent events, sends its metrics, and decides as
 * @baton/flags does.
 */
const require = createRequire(import.meta.url);
const { Unleash, InMemStorageProvider } = require("unleash-client") as typeof import("unleash-client");

const CONTEXTS = 300;
let fx: Awaited<ReturnType<typeof startFlagApi>>;
let token: string;
let unleash: InstanceType<typeof Unleash>;

const segments = [
  {
    id: 1,
    name: "staff",
    constraints: [{ contextName: "email", operator: "STR_ENDS_WITH", values: ["@acme.io"] }],
  },
];
const flags: Flag[] = [
  { name: "everyone", enabled: true, strategies: [{ name: "default" }] },
  { name: "nobody", enabled: false, strategies: [{ name: "default" }] },
  {
    name: "by-user",
    enabled: true,
    strategies: [{ name: "userWithId", parameters: { userIds: "u-1,u-7,u-42" } }],
  },
  {
    name: "rollout-user",
    enabled: true,
    strategies: [
      { name: "flexibleRollout", parameters: { rollout: "37", stickiness: "userId", groupId: "ro" } },
    ],
  },
  {
    name: "rollout-tenant",
    enabled: true,
    strategies: [
      { name: "flexibleRollout", parameters: { rollout: "50", stickiness: "tenant", groupId: "t" } },
    ],
  },
  {
    name: "constrained",
    enabled: true,
    strategies: [
      {
        name: "flexibleRollout",
        parameters: { rollout: "60", stickiness: "default", groupId: "c" },
        constraints: [
          { contextName: "tenant", operator: "IN", values: ["acme", "globex"] },
          { contextName: "age", operator: "NUM_GTE", value: "18" },
        ],
      },
    ],
  },
  { name: "staff-only", enabled: true, strategies: [{ name: "default", segments: [1] }] },
  {
    name: "gradual",
    enabled: true,
    strategies: [{ name: "gradualRolloutUserId", parameters: { percentage: "25", groupId: "g" } }],
  },
  {
    name: "office",
    enabled: true,
    strategies: [{ name: "remoteAddress", parameters: { IPs: "10.0.0.0/8, 192.168.1.7" } }],
  },
  {
    name: "colours",
    enabled: true,
    strategies: [
      { name: "flexibleRollout", parameters: { rollout: "80", stickiness: "userId", groupId: "col" } },
    ],
    variants: [
      { name: "blue", weight: 300, stickiness: "userId", payload: { type: "string", value: "b" } },
      { name: "green", weight: 700, stickiness: "userId" },
    ],
  },
  {
    name: "child",
    enabled: true,
    strategies: [{ name: "default" }],
    dependencies: [{ feature: "rollout-user" }],
  },
];

function context(i: number): FlagContext {
  const tenants = ["acme", "globex", "initech", "ünï"];
  return {
    userId: i % 11 === 0 ? undefined : `u-${i}`,
    sessionId: `s-${(i * 7919) % 1000}`,
    remoteAddress: i % 3 === 0 ? `10.1.${i % 256}.9` : `172.16.0.${i % 256}`,
    properties: {
      tenant: tenants[i % tenants.length],
      email: i % 5 === 0 ? `user${i}@acme.io` : `user${i}@example.com`,
      age: String(10 + (i % 40)),
    },
  };
}

beforeAll(async () => {
  fx = await startFlagApi("unleash");
  token = (await fx.call("POST", "/v1/flags/tokens", { name: "sdk" })).body.token;
  const applied = await fx.call("POST", "/v1/flags/apply", { flags, segments });
  expect(applied.status).toBe(200);
  unleash = new Unleash({
    url: `${fx.api.url}/api/`,
    appName: "cross-check",
    customHeaders: { Authorization: token },
    experimentalMode: { type: "streaming" },
    storageProvider: new InMemStorageProvider(),
    metricsInterval: 300,
    skipInstanceCountWarning: true,
  });
  unleash.on("error", () => {});
  unleash.on("warn", () => {});
  await once(unleash, "synchronized");
});
afterAll(async () => {
  unleash?.destroy();
  await fx?.close();
});

describe("unleash-client against Baton", () => {
  it("gets every flag over streaming and decides as @baton/flags does", async () => {
    const state = (await fx.call("GET", "/api/client/features", undefined, {}, token)).body as FlagState;
    expect(
      unleash
        .getFeatureToggleDefinitions()
        .map((f) => f.name)
        .sort(),
    ).toEqual(flags.map((f) => f.name).sort());
    let on = 0;
    for (let i = 0; i < CONTEXTS; i++) {
      const ctx = context(i);
      for (const flag of flags) {
        const theirs = unleash.isEnabled(flag.name, ctx as never);
        expect(theirs, `${flag.name} for ${JSON.stringify(ctx)}`).toBe(isEnabled(state, flag.name, ctx));
        if (theirs) on++;
      }
      const variant = unleash.getVariant("colours", ctx as never);
      const ours = getVariant(state, "colours", ctx);
      expect({ name: variant.name, enabled: variant.enabled }).toEqual({
        name: ours.name,
        enabled: ours.enabled,
      });
    }
    // Neither all on nor all off: the comparison says something.
    expect(on).toBeGreaterThan(CONTEXTS);
    expect(on).toBeLessThan(CONTEXTS * flags.length - CONTEXTS);
  });

  it("receives a change over the stream within milliseconds, and reports its evaluations", async () => {
    const changed = once(unleash, "changed");
    const at = performance.now();
    await fx.call("POST", "/v1/flags/rollout-user/rollout", { percent: 100 });
    await changed;
    expect(performance.now() - at).toBeLessThan(1000);
    const definition = unleash.getFeatureToggleDefinition("rollout-user");
    expect(definition?.strategies?.[0]?.parameters?.rollout).toBe("100");
    for (let i = 1; i <= 20; i++) expect(unleash.isEnabled("rollout-user", { userId: `x-${i}` })).toBe(true);

    const removed = once(unleash, "changed");
    await fx.call("DELETE", "/v1/flags/nobody");
    await removed;
    expect(unleash.getFeatureToggleDefinition("nobody")).toBeUndefined();

    // Its metrics (every 300 ms here) arrive in Unleash's format and are counted.
    const deadline = Date.now() + 5000;
    let metrics: { yes: number; no: number } | null = null;
    while (Date.now() < deadline) {
      metrics = (await fx.call("GET", "/v1/flags/everyone")).body.metrics;
      if (metrics && metrics.yes >= CONTEXTS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(metrics?.yes).toBeGreaterThanOrEqual(CONTEXTS);
  });
});
