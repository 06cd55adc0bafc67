import { ErrorCode, OpenFeature, StandardResolutionReasons } from "@openfeature/server-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Flag } from "../flag-schema.js";
import { BatonFlagProvider } from "./baton-flag-provider.js";

const withPayload = (name: string, type: string, value: string): Flag => ({
  name,
  enabled: true,
  strategies: [{ name: "default" }],
  variants: [{ name: `${name}-variant`, weight: 1000, payload: { type, value } }],
});

const flags: Flag[] = [
  { name: "checkout", enabled: true, strategies: [{ name: "default" }] },
  {
    name: "off",
    enabled: false,
    strategies: [{ name: "default" }],
    variants: withPayload("x", "string", "x").variants,
  },
  {
    name: "alice-only",
    enabled: true,
    strategies: [{ name: "userWithId", parameters: { userIds: "alice" } }],
  },
  {
    name: "acme-alice",
    enabled: true,
    strategies: [
      {
        name: "userWithId",
        parameters: { userIds: "alice" },
        constraints: [
          { contextName: "tenant", operator: "IN", values: ["acme"] },
          { contextName: "seats", operator: "NUM_GT", value: "10" },
        ],
      },
    ],
  },
  withPayload("banner", "string", "hello"),
  withPayload("limit", "number", "42"),
  withPayload("limit-bad", "number", "forty-two"),
  withPayload("config", "json", '{"color":"blue","sizes":[1,2]}'),
  withPayload("config-bad", "json", '{"color":'),
];

// No server: the state is the bootstrap, and the client's attempts to connect fail quietly on a closed port.
const provider = new BatonFlagProvider({
  url: "http://127.0.0.1:9/api",
  token: "t",
  appName: "of-test",
  metricsInterval: 0,
  streaming: false,
  bootstrap: { features: flags },
});
const client = OpenFeature.getClient("baton-test");

beforeAll(async () => {
  await OpenFeature.setProviderAndWait("baton-test", provider);
});
afterAll(async () => {
  await OpenFeature.close();
});

describe("BatonFlagProvider through OpenFeature", () => {
  it("resolves booleans with TARGETING_MATCH, DEFAULT, DISABLED and FLAG_NOT_FOUND", async () => {
    expect(await client.getBooleanDetails("checkout", false)).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.TARGETING_MATCH,
    });
    const alice = await client.getBooleanDetails("alice-only", false, { targetingKey: "alice" });
    expect(alice).toMatchObject({ value: true, reason: StandardResolutionReasons.TARGETING_MATCH });
    const bob = await client.getBooleanDetails("alice-only", true, { targetingKey: "bob" });
    expect(bob).toMatchObject({ value: false, reason: StandardResolutionReasons.DEFAULT });
    expect(await client.getBooleanDetails("off", true)).toMatchObject({
      value: false,
      reason: StandardResolutionReasons.DISABLED,
    });
    expect(await client.getBooleanDetails("missing", true)).toMatchObject({
      value: true,
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
  });

  it("resolves strings, numbers and objects from the variant payload with SPLIT", async () => {
    expect(await client.getStringDetails("banner", "none")).toMatchObject({
      value: "hello",
      variant: "banner-variant",
      reason: StandardResolutionReasons.SPLIT,
    });
    expect(await client.getNumberDetails("limit", 0)).toMatchObject({ value: 42, reason: "SPLIT" });
    expect(await client.getObjectDetails("config", {})).toMatchObject({
      value: { color: "blue", sizes: [1, 2] },
      reason: "SPLIT",
    });
    expect(await client.getStringDetails("off", "fallback")).toMatchObject({
      value: "fallback",
      reason: StandardResolutionReasons.DISABLED,
    });
    expect(await client.getStringDetails("checkout", "fallback")).toMatchObject({
      value: "fallback",
      reason: StandardResolutionReasons.DEFAULT,
    });
  });

  it("answers the default with TYPE_MISMATCH and PARSE_ERROR for payloads of the wrong type or shape", async () => {
    expect(await client.getNumberDetails("banner", 7)).toMatchObject({
      value: 7,
      reason: "ERROR",
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getObjectDetails("limit", { a: 1 })).toMatchObject({
      value: { a: 1 },
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
    expect(await client.getNumberDetails("limit-bad", 7)).toMatchObject({
      value: 7,
      errorCode: ErrorCode.PARSE_ERROR,
    });
    expect(await client.getObjectDetails("config-bad", {})).toMatchObject({
      value: {},
      errorCode: ErrorCode.PARSE_ERROR,
    });
    expect(await client.getStringDetails("missing", "d")).toMatchObject({
      errorCode: ErrorCode.FLAG_NOT_FOUND,
    });
  });

  it("maps targetingKey to userId (an explicit userId wins) and custom fields to properties", async () => {
    const context = { targetingKey: "alice", tenant: "acme", seats: 25, tags: ["a"] };
    expect(await client.getBooleanValue("acme-alice", false, context)).toBe(true);
    expect(await client.getBooleanValue("acme-alice", false, { ...context, tenant: "other" })).toBe(false);
    expect(await client.getBooleanValue("acme-alice", false, { ...context, userId: "bob" })).toBe(false);
  });
});
