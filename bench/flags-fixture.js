// The flag and the contexts of the flag benchmark (bench/flags-bench.js), in the format of each
// library compared: Unleash's (Baton and unleash-client), GrowthBook's, and an OpenFeature
// InMemoryProvider's contextEvaluator. One definition, written four ways.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const FLAG = "new-checkout";
/** The same flag without its rollout (100%): what the peers that bucket differently must agree on. */
export const FLAG_ALL = "new-checkout-all";
export const ROLLOUT = 37;
export const CONTEXTS = 10_000;

export const REGIONS_ON = ["eu-west-1", "eu-central-1", "us-east-1"];
const REGIONS = [...REGIONS_ON, "ap-south-1"];
export const PLANS_OFF = ["free"];
const PLANS = ["free", "pro", "business", "enterprise"];
export const MIN_VERSION = "2.3.0";
const VERSIONS = ["2.1.0", "2.3.0", "2.3.1", "2.4.0-beta.2", "2.4.0", "2.10.0", "3.0.0", "3.1.2"];
const TENANTS = Array.from({ length: 200 }, (_, i) => `tenant-${String(i).padStart(3, "0")}`);
/** The "beta tenants" segment: every other tenant. */
export const BETA_TENANTS = TENANTS.filter((_, i) => i % 2 === 0);

/** A small seeded generator (mulberry32), so that every process builds the same contexts. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Unleash's constraints of the flag (the segment adds the tenant). */
const constraints = [
  { contextName: "region", operator: "IN", values: REGIONS_ON },
  { contextName: "plan", operator: "NOT_IN", values: PLANS_OFF },
  { contextName: "appVersion", operator: "SEMVER_GT", value: MIN_VERSION },
];

const unleashFlag = (name, rollout) => ({
  name,
  type: "release",
  project: "default",
  enabled: true,
  stale: false,
  impressionData: false,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(rollout), stickiness: "userId", groupId: FLAG },
      constraints,
      segments: [1],
      variants: [],
    },
  ],
  variants: [],
});

/** Other flags beside it, as a real state has (simple ones: on, off, a plain rollout, user ids). */
const otherFlags = Array.from({ length: 48 }, (_, i) => ({
  name: `flag-${i}`,
  type: "release",
  project: "default",
  enabled: i % 5 !== 0,
  impressionData: false,
  strategies:
    i % 3 === 0
      ? [{ name: "default", parameters: {}, constraints: [] }]
      : i % 3 === 1
        ? [
            {
              name: "flexibleRollout",
              parameters: { rollout: "50", stickiness: "default", groupId: `flag-${i}` },
            },
          ]
        : [{ name: "userWithId", parameters: { userIds: "user-1,user-2,user-3" } }],
}));

/** Baton's (and Unleash's) client state: `GET /api/client/features`. */
export const STATE = {
  version: 2,
  features: [unleashFlag(FLAG, ROLLOUT), unleashFlag(FLAG_ALL, 100), ...otherFlags],
  segments: [
    {
      id: 1,
      name: "beta-tenants",
      constraints: [{ contextName: "tenant", operator: "IN", values: BETA_TENANTS }],
    },
  ],
};

/** GrowthBook's features: the constraints as a condition, the rollout as a forced rule's coverage. */
const gbRule = (coverage) => ({
  condition: {
    region: { $in: REGIONS_ON },
    plan: { $nin: PLANS_OFF },
    appVersion: { $vgt: MIN_VERSION },
    tenant: { $in: BETA_TENANTS },
  },
  force: true,
  coverage,
  hashAttribute: "userId",
});
export const GROWTHBOOK_FEATURES = {
  [FLAG]: { defaultValue: false, rules: [gbRule(ROLLOUT / 100)] },
  [FLAG_ALL]: { defaultValue: false, rules: [gbRule(1)] },
  ...Object.fromEntries(otherFlags.map((f) => [f.name, { defaultValue: f.enabled }])),
};

/**
 * OpenFeature has no targeting language of its own: an InMemoryProvider flag takes a function of the
 * context. This one does by hand what the Unleash definition says (Unleash's semantics: a context
 * version starting with "v" never matches, strict semver; murmur3 of "groupId:userId" as
 * unleash-client computes it, bucket 1..100).
 */
export function openFeatureFlags() {
  const semver = require("semver");
  const murmurHash3 = require("murmurhash3js");
  const regions = new Set(REGIONS_ON);
  const plansOff = new Set(PLANS_OFF);
  const tenants = new Set(BETA_TENANTS);
  const evaluator = (rollout) => (ctx) => {
    if (!regions.has(ctx.region) || plansOff.has(ctx.plan)) return "off";
    const v = ctx.appVersion;
    if (typeof v !== "string" || v.startsWith("v") || !semver.valid(v) || !semver.gt(v, MIN_VERSION))
      return "off";
    if (!tenants.has(ctx.tenant)) return "off";
    const id = ctx.targetingKey;
    if (!id) return "off";
    const bucket = (murmurHash3.x86.hash32(`${FLAG}:${id}`, 0) % 100) + 1;
    return rollout > 0 && bucket <= rollout ? "on" : "off";
  };
  const flag = (rollout) => ({
    variants: { on: true, off: false },
    defaultVariant: "off",
    disabled: false,
    contextEvaluator: evaluator(rollout),
  });
  return {
    [FLAG]: flag(ROLLOUT),
    [FLAG_ALL]: flag(100),
    ...Object.fromEntries(
      otherFlags.map((f) => [
        f.name,
        { variants: { on: true, off: false }, defaultVariant: f.enabled ? "on" : "off", disabled: false },
      ]),
    ),
  };
}

/** Unleash's context (Baton's too): the well-known fields, then `properties`. */
export function unleashContexts(n = CONTEXTS) {
  const random = seeded(20_261_201);
  const pick = (items) => items[Math.floor(random() * items.length)];
  const hex = (digits) =>
    Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join("");
  return Array.from({ length: n }, () => ({
    userId: `user-${Math.floor(random() * 5_000_000)}`,
    sessionId: `${hex(8)}-${hex(4)}-4${hex(3)}-${hex(4)}-${hex(12)}`,
    remoteAddress: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`,
    environment: "production",
    appName: "checkout",
    properties: {
      tenant: pick(TENANTS),
      region: pick(REGIONS),
      plan: pick(PLANS),
      appVersion: pick(VERSIONS),
    },
  }));
}

/** The same contexts as GrowthBook's attributes (flat). */
export const growthBookAttributes = (contexts) =>
  contexts.map(({ properties, ...top }) => ({ ...top, ...properties }));

/** The same contexts as OpenFeature evaluation contexts (flat, `targetingKey` for the user). */
export const openFeatureContexts = (contexts) =>
  contexts.map(({ properties, userId, ...top }) => ({ targetingKey: userId, ...top, ...properties }));

/** The flag whose rollout the propagation part of the benchmark moves. */
export const PROPAGATED = "propagated";
export const propagatedFlag = (rollout) => ({
  name: PROPAGATED,
  enabled: true,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(rollout), stickiness: "default", groupId: PROPAGATED },
    },
  ],
});
