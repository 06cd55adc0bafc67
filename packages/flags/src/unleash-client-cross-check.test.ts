import { createRequire } from "node:module";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getVariant, isEnabled } from "./evaluate.js";
import type { FlagContext } from "./flag-context.js";
import type { Constraint, Flag, FlagState, Strategy } from "./flag-schema.js";

/**
 * Baton's evaluator against unleash-client's own evaluation code (its UnleashClient with its built-in
 * strategies, over an in-memory repository: no server, no network), for random contexts across flags
 * of every strategy, operator, segment, variant and dependency kind.
 */
const require = createRequire(import.meta.url);
const { default: UnleashClient } = require("unleash-client/lib/client.js");
const { defaultStrategies } = require("unleash-client/lib/strategy/index.js");

const CONTEXTS = 10_000;

/** A small seeded generator (mulberry32), so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOST = (process.env.HOSTNAME || hostname() || "undefined").toLowerCase();
const rollout = (percent: number, stickiness = "default", groupId = "g"): Strategy => ({
  name: "flexibleRollout",
  parameters: { rollout: String(percent), stickiness, groupId },
});
const on = (name: string, strategies: Strategy[], extra: Partial<Flag> = {}): Flag => ({
  name,
  enabled: true,
  strategies,
  ...extra,
});
const constrained = (constraint: Constraint): Strategy => ({ name: "default", constraints: [constraint] });
const variants = [
  { name: "blue", weight: 300, payload: { type: "string", value: "b" } },
  { name: "green", weight: 500, stickiness: "tenant" },
  { name: "red", weight: 200, overrides: [{ contextName: "userId", values: ["u-7", "ü-7"] }] },
];

const OPERATOR_FLAGS: Constraint[] = [
  { contextName: "tenant", operator: "IN", values: ["acme", "globex", " ünï "] },
  { contextName: "tenant", operator: "NOT_IN", values: ["acme"] },
  { contextName: "email", operator: "STR_ENDS_WITH", values: ["@example.com"], caseInsensitive: true },
  { contextName: "email", operator: "STR_STARTS_WITH", values: ["ad", "Ü"] },
  { contextName: "email", operator: "STR_CONTAINS", values: ["x", "é"], inverted: true },
  { contextName: "age", operator: "NUM_EQ", value: "42" },
  { contextName: "age", operator: "NUM_GT", value: "30" },
  { contextName: "age", operator: "NUM_GTE", value: "30.5" },
  { contextName: "age", operator: "NUM_LT", value: "18" },
  { contextName: "age", operator: "NUM_LTE", value: "-1" },
  { contextName: "currentTime", operator: "DATE_AFTER", value: "2025-06-01T00:00:00.000Z" },
  { contextName: "currentTime", operator: "DATE_BEFORE", value: "2025-06-01T00:00:00.000Z" },
  { contextName: "version", operator: "SEMVER_EQ", value: "1.2.3" },
  { contextName: "version", operator: "SEMVER_GT", value: "1.2.3-beta.2" },
  { contextName: "version", operator: "SEMVER_GTE", value: "2.0.0" },
  { contextName: "version", operator: "SEMVER_LT", value: "v1.10.0" },
  { contextName: "version", operator: "SEMVER_LTE", value: "1.2.3-rc.1" },
  { contextName: "userId", operator: "REGEX", value: "^u-\\d{1,2}$" },
  { contextName: "email", operator: "REGEX", value: "(?i)^[[:alpha:]]+@EXAMPLE\\.com$" },
  { contextName: "userId", operator: "REGEX", value: "\\p{Greek}|[é-ü]|^ü" },
  {
    contextName: "remoteAddress",
    operator: "IN_CIDR",
    values: ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"],
  },
];

const state: FlagState = {
  version: 1,
  segments: [
    {
      id: 1,
      name: "eu",
      constraints: [{ contextName: "region", operator: "IN", values: ["eu-west", "eu-north"] }],
    },
    { id: 2, name: "adults", constraints: [{ contextName: "age", operator: "NUM_GTE", value: "18" }] },
  ],
  features: [
    on("default", [{ name: "default" }]),
    on("disabled", [{ name: "default" }], { enabled: false }),
    on("no-strategies", []),
    on("unknown-strategy", [{ name: "myCustom", parameters: {} }]),
    on("user-with-id", [{ name: "userWithId", parameters: { userIds: "u-1, u-2,ü-3 , 😊" } }]),
    on("rollout-37.5", [rollout(37.5)]),
    on("rollout-user", [rollout(50, "userId", "checkout")]),
    on("rollout-session", [rollout(20, "sessionId", "")]),
    on("rollout-random", [rollout(50, "random")]),
    on("rollout-tenant", [rollout(60, "tenant", "ü-group")]),
    on("rollout-no-group", [{ name: "flexibleRollout", parameters: { rollout: "50" } }]),
    on("remote-address", [
      { name: "remoteAddress", parameters: { IPs: "10.1.2.3, 192.168.0.0/16, 2001:db8::1" } },
    ]),
    on("hostname", [
      { name: "applicationHostname", parameters: { hostNames: `other,${HOST.toUpperCase()}` } },
    ]),
    on("hostname-other", [{ name: "applicationHostname", parameters: { hostNames: "not-this-host" } }]),
    on("gradual-user", [{ name: "gradualRolloutUserId", parameters: { percentage: "30", groupId: "gu" } }]),
    on("gradual-session", [
      { name: "gradualRolloutSessionId", parameters: { percentage: "70", groupId: "gs" } },
    ]),
    on("gradual-random", [{ name: "gradualRolloutRandom", parameters: { percentage: "25" } }]),
    ...OPERATOR_FLAGS.map((constraint, i) => on(`op-${i}-${constraint.operator}`, [constrained(constraint)])),
    on("segments", [{ ...rollout(80), segments: [1, 2] }]),
    on("missing-segment", [{ name: "default", segments: [99] }]),
    on("variants", [rollout(90)], { variants }),
    on("variants-user-stickiness", [rollout(100)], {
      variants: variants.map((v) => ({ ...v, stickiness: "userId" })),
    }),
    on("strategy-variants", [
      {
        ...rollout(40, "userId", "sv"),
        variants: [
          { name: "a", weight: 1 },
          { name: "b", weight: 3 },
        ],
      },
      {
        ...rollout(100, "default", "sv2"),
        variants: [{ name: "c", weight: 1, payload: { type: "json", value: "{}" } }],
      },
    ]),
    on("child", [{ name: "default" }], { dependencies: [{ feature: "rollout-37.5" }] }),
    on("child-of-off", [{ name: "default" }], {
      dependencies: [{ feature: "rollout-user", enabled: false }],
    }),
    on("child-variant", [rollout(70)], {
      dependencies: [{ feature: "variants", variants: ["blue", "red"] }],
      variants,
    }),
    on("grandchild", [{ name: "default" }], { dependencies: [{ feature: "child" }] }),
    on("child-of-missing", [{ name: "default" }], { dependencies: [{ feature: "nope" }] }),
  ],
};

const IDS = ["u-1", "u-2", "ü-3", "u-7", "ü-7", "😊", "用户", "Ωmega", "é", "x"];
const WORDS = ["acme", "globex", "ünï", "Admin", "ÜBER", "Ädmin"];
function randomContext(random: () => number): FlagContext {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const maybe = (p = 0.8) => random() < p;
  const unicodeId = () =>
    Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
      String.fromCodePoint(pick([0x61, 0xe9, 0x3a9, 0x4e2d, 0x1f600, 0x30]) + Math.floor(random() * 20)),
    ).join("");
  const context: FlagContext = { properties: {} };
  if (maybe())
    context.userId = maybe(0.3) ? pick(IDS) : maybe(0.5) ? unicodeId() : `u-${Math.floor(random() * 120)}`;
  if (maybe(0.6)) context.sessionId = maybe(0.5) ? unicodeId() : String(Math.floor(random() * 1e6));
  if (maybe(0.7)) {
    context.remoteAddress = maybe(0.7)
      ? `${pick([10, 192, 172, 8])}.${pick([1, 168, 0])}.${Math.floor(random() * 3)}.${Math.floor(random() * 9)}`
      : `2001:db${pick([8, 9])}::${Math.floor(random() * 0xffff).toString(16)}`;
  }
  if (maybe(0.5))
    context.currentTime = new Date(Date.UTC(2025, Math.floor(random() * 12), 1 + Math.floor(random() * 28)));
  const properties = context.properties!;
  if (maybe()) properties.tenant = maybe(0.7) ? pick(WORDS) : unicodeId();
  if (maybe()) properties.region = pick(["eu-west", "eu-north", "us-east"]);
  if (maybe()) properties.age = String(pick([-3, 0, 17, 18, 30, 30.5, 42, 99]));
  if (maybe())
    properties.version = pick(["1.2.3", "1.2.3-beta.10", "1.10.0", "2.0.0", "v1.2.3", "1.2", "1.2.3-rc.1"]);
  if (maybe())
    properties.email = `${pick(WORDS)}${maybe(0.5) ? "x" : "é"}@${pick(["example.com", "EXAMPLE.COM", "corp.io"])}`;
  return context;
}

describe("unleash-client 6.12.1 cross-check (its evaluation code in-process)", () => {
  const realRandom = Math.random;
  let draw = seeded(0);
  // Both evaluators draw from Math.random for random stickiness; each side replays the same sequence.
  beforeAll(() => {
    Math.random = () => draw();
  });
  afterAll(() => {
    Math.random = realRandom;
  });

  it(`agrees on every decision and variant for ${CONTEXTS} random contexts`, () => {
    const flags = new Map(state.features.map((flag) => [flag.name, flag]));
    const segments = new Map(state.segments!.map((segment) => [segment.id, segment]));
    const unleash = new UnleashClient(
      { getToggle: (name: string) => flags.get(name), getSegment: (id: number) => segments.get(id) },
      defaultStrategies,
    );
    const random = seeded(20_260_101);
    let compared = 0;
    let enabledCount = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < CONTEXTS; i++) {
      const context = randomContext(random);
      for (const flag of state.features) {
        draw = seeded(i);
        const theirs = unleash.isEnabled(flag.name, context, () => false);
        draw = seeded(i);
        const ours = isEnabled(state, flag.name, context, { hostname: HOST });
        draw = seeded(i);
        const { feature_enabled: _, ...theirVariant } = unleash.getVariant(flag.name, context);
        draw = seeded(i);
        const ourVariant = getVariant(state, flag.name, context, { hostname: HOST });
        compared++;
        if (ours) enabledCount++;
        if (theirs !== ours || !isDeepStrictEqualLoose(theirVariant, ourVariant)) {
          if (mismatches.length < 10) {
            mismatches.push(
              `${flag.name} ${JSON.stringify(context)}: unleash ${theirs} ${JSON.stringify(theirVariant)}, baton ${ours} ${JSON.stringify(ourVariant)}`,
            );
          }
        }
      }
    }
    console.log(
      `unleash-client cross-check: ${CONTEXTS} contexts x ${state.features.length} flags = ${compared} decisions and variants compared, ${enabledCount} on`,
    );
    expect(mismatches).toEqual([]);
  });
});

/** Equal ignoring properties whose value is undefined (unleash-client sets `payload: undefined`). */
function isDeepStrictEqualLoose(a: object, b: object): boolean {
  const clean = (o: object) => JSON.stringify(o, Object.keys(o).sort());
  return clean(a) === clean(b);
}
