import { connect } from "node:net";
import type { Flag } from "@baton/flags";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../api-server.js";
import { ADMIN_TOKEN, startFlagApi } from "../test-support/flag-fixture.js";
import { openApiConformance } from "../test-support/openapi-conformance.js";
import { openStream } from "../test-support/sse-reader.js";

let fx: Awaited<ReturnType<typeof startFlagApi>>;
let clientToken: string;

const rolloutFlag = (name: string, percent: number, extra: Partial<Flag> = {}): Flag => ({
  name,
  enabled: true,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(percent), stickiness: "userId", groupId: name },
    },
  ],
  ...extra,
});

beforeAll(async () => {
  fx = await startFlagApi("flags", { heartbeatMs: 200, maxBufferBytes: 64 * 1024 });
  clientToken = (await fx.call("POST", "/v1/flags/tokens", { name: "checkout-app" })).body.token;
});
afterAll(() => fx?.close());

describe("the flag admin API", () => {
  it("creates, reads, changes and deletes a flag, with its version as ETag", async () => {
    const created = await fx.call("PUT", "/v1/flags/new-checkout", rolloutFlag("new-checkout", 5));
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: "new-checkout", version: 1, updatedBy: "api" });
    expect(created.headers.etag).toBe('"1"');
    const got = await fx.call("GET", "/v1/flags/new-checkout");
    expect(got.body.flag).toEqual(rolloutFlag("new-checkout", 5));
    expect(got.body.metrics).toBeNull();
    expect((await fx.call("GET", "/v1/flags")).body.map((r: { name: string }) => r.name)).toContain(
      "new-checkout",
    );

    const enabled = await fx.call("POST", "/v1/flags/new-checkout/disable", { actor: "ana" });
    expect(enabled.body).toMatchObject({ version: 2, updatedBy: "ana", flag: { enabled: false } });
    const rolled = await fx.call("POST", "/v1/flags/new-checkout/rollout", { percent: 25 });
    expect(rolled.body.flag.strategies[0].parameters.rollout).toBe("25");
    expect(rolled.body.version).toBe(3);
    // The same value again: nothing to record, the version stays.
    expect((await fx.call("POST", "/v1/flags/new-checkout/rollout", { percent: 25 })).body.version).toBe(3);

    const plain = await fx.call("PUT", "/v1/flags/plain", {
      enabled: true,
      strategies: [{ name: "default" }],
    });
    expect(plain.body.flag.name).toBe("plain");
    const none = await fx.call("POST", "/v1/flags/plain/rollout", { percent: 10 });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe("BATON_FLAG_NO_ROLLOUT");
    expect(none.body.error.message).toContain("no flexibleRollout strategy (its strategies: default)");

    const stale = await fx.call("DELETE", "/v1/flags/plain", undefined, { "if-match": '"7"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("BATON_FLAG_CONFLICT");
    expect((await fx.call("DELETE", "/v1/flags/plain", undefined, { "if-match": "1" })).status).toBe(200);
    const gone = await fx.call("GET", "/v1/flags/plain");
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("BATON_UNKNOWN_FLAG");
    expect((await fx.call("POST", "/v1/flags/plain/enable", {})).status).toBe(404);
  });

  it("refuses a bad definition with a 400 naming the field, and changes nothing", async () => {
    const bad = async (body: unknown, field: string, path = "/v1/flags/bad-one") => {
      const r = await fx.call("PUT", path, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: "BATON_BAD_REQUEST", field });
      expect(r.body.error.message).toContain(field);
    };
    await bad(rolloutFlag("bad-one", 150), "strategies[0].parameters.rollout");
    await bad(
      {
        enabled: true,
        strategies: [{ name: "default", constraints: [{ contextName: "x", operator: "LIKE" }] }],
      },
      "strategies[0].constraints[0].operator",
    );
    await bad(
      {
        enabled: true,
        strategies: [
          { name: "default", constraints: [{ contextName: "age", operator: "NUM_GT", value: "old" }] },
        ],
      },
      "strategies[0].constraints[0].value",
    );
    await bad({ enabled: "yes", strategies: [] }, "enabled");
    await bad({ name: "other", enabled: true, strategies: [] }, "name");
    await bad(
      { enabled: true, strategies: [{ name: "default", segments: [99] }] },
      "strategies[0].segments[0]",
    );
    await bad({ enabled: true, strategies: [] }, "name", "/v1/flags/tokens");
    await bad({ enabled: true, strategies: [] }, "name", "/v1/flags/has%20space");
    await bad({ enabled: true, strategies: [], version: -1 }, "version");
    expect((await fx.call("GET", "/v1/flags/bad-one")).status).toBe(404);
  });

  it("lets one of two concurrent edits of the same version through and refuses the other (409, both versions named)", async () => {
    const base = await fx.call("PUT", "/v1/flags/race", rolloutFlag("race", 10));
    const v = base.body.version;
    const [a, b] = await Promise.all([
      fx.call("PUT", "/v1/flags/race", rolloutFlag("race", 20), { "if-match": `"${v}"` }),
      fx.call("PUT", "/v1/flags/race", { ...rolloutFlag("race", 10), enabled: false, version: v }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    expect(lost.body.error.code).toBe("BATON_FLAG_CONFLICT");
    expect(lost.body.error.message).toContain(`at version ${v + 1}, the change was based on version ${v}`);
    expect((await fx.call("GET", "/v1/flags/race")).body.flag).toEqual(won.body.flag);

    // Without a version, read-modify-write operations are still atomic: none is lost.
    const percents = [1, 2, 3, 4, 5, 6, 7, 8];
    const before = (await fx.call("GET", "/v1/flags/race")).body.version;
    await Promise.all(percents.map((percent) => fx.call("POST", "/v1/flags/race/rollout", { percent })));
    const history = (await fx.call("GET", "/v1/flags/race/history?limit=8")).body;
    expect((await fx.call("GET", "/v1/flags/race")).body.version).toBe(before + 8);
    expect(
      history.map((c: { after: Flag }) => Number(c.after.strategies[0]!.parameters!.rollout)).sort(),
    ).toEqual(percents);
    // Each change starts from the one before it.
    for (let i = 0; i + 1 < history.length; i++) expect(history[i].before).toEqual(history[i + 1].after);
  });

  it("records every change in the history and the audit chain, with before and after", async () => {
    await fx.call("PUT", "/v1/flags/audited", rolloutFlag("audited", 0), { "if-match": "0" });
    await fx.call("POST", "/v1/flags/audited/rollout", { percent: 50, actor: "ops" });
    await fx.call("DELETE", "/v1/flags/audited", { version: 2, actor: "ops" });
    const history = (await fx.call("GET", "/v1/flags/audited/history")).body;
    expect(history.map((c: { action: string; version: number }) => [c.action, c.version])).toEqual([
      ["flag.deleted", 0],
      ["flag.changed", 2],
      ["flag.created", 1],
    ]);
    expect(history[1].before.strategies[0].parameters.rollout).toBe("0");
    expect(history[1].after.strategies[0].parameters.rollout).toBe("50");
    expect(history[0].after).toBeNull();

    const events = (await fx.plane.audit.list(1000)).filter((e) => e.details?.flag === "audited");
    expect(events.map((e) => e.action)).toEqual(["flag.created", "flag.changed", "flag.deleted"]);
    expect(events[1]).toMatchObject({ actor: "ops", service: "flagged" });
    expect((events[1]!.details!.after as Flag).strategies[0]!.parameters!.rollout).toBe("50");
    expect((events[1]!.details!.before as Flag).strategies[0]!.parameters!.rollout).toBe("0");
    expect((await fx.call("GET", "/v1/audit/verify")).body.problems).toEqual([]);
    // A create based on version 0 of a flag that exists is a conflict too.
    await fx.call("PUT", "/v1/flags/audited", rolloutFlag("audited", 0));
    expect(
      (await fx.call("PUT", "/v1/flags/audited", rolloutFlag("audited", 1), { "if-match": "0" })).status,
    ).toBe(409);
  });

  it("applies many flags all or nothing, naming the bad one and its field", async () => {
    const bad = await fx.call("POST", "/v1/flags/apply", {
      flags: [
        rolloutFlag("batch-a", 5),
        {
          name: "batch-b",
          enabled: true,
          strategies: [{ name: "flexibleRollout", parameters: { rollout: "x" } }],
        },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("flags[1].strategies[0].parameters.rollout");
    expect(bad.body.error.message).toContain("flag batch-b");
    expect((await fx.call("GET", "/v1/flags/batch-a")).status).toBe(404);

    const segment = {
      id: 7,
      name: "staff",
      constraints: [{ contextName: "email", operator: "STR_ENDS_WITH", values: ["@acme.io"] }],
    };
    const ok = await fx.call("POST", "/v1/flags/apply", {
      flags: [
        rolloutFlag("batch-a", 5),
        { name: "batch-b", enabled: true, strategies: [{ name: "default", segments: [7] }] },
      ],
      segments: [segment],
    });
    expect(ok.body).toMatchObject({ created: ["batch-a", "batch-b"], changed: [], segments: [7] });
    const again = await fx.call("POST", "/v1/flags/apply", {
      flags: [rolloutFlag("batch-a", 5)],
      segments: [segment],
    });
    expect(again.body).toMatchObject({ created: [], changed: [], unchanged: ["batch-a"], segments: [] });
    const exported = (await fx.call("GET", "/v1/flags/export")).body;
    expect(exported.segments).toEqual([segment]);
  });

  it("makes client tokens that are shown once and stored as SHA-256 only", async () => {
    const list = (await fx.call("GET", "/v1/flags/tokens")).body;
    expect(list).toEqual([expect.objectContaining({ name: "checkout-app", createdAt: expect.any(String) })]);
    expect(JSON.stringify(list)).not.toContain(clientToken);
    const { rows } = await fx.env.db.query<Record<string, unknown>>("SELECT * FROM baton_flag_tokens");
    expect(rows[0]!.sha256).toBe(hashToken(clientToken));
    expect(JSON.stringify(rows)).not.toContain(clientToken);
    const twice = await fx.call("POST", "/v1/flags/tokens", { name: "checkout-app" });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("BATON_FLAG_TOKEN_EXISTS");
  });

  it("keeps the two kinds of token apart", async () => {
    const features = (auth: string | null) => fx.call("GET", "/api/client/features", undefined, {}, auth);
    for (const auth of [null, `Bearer ${ADMIN_TOKEN}`, ADMIN_TOKEN, "wrong"]) {
      const r = await features(auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.body.error.code).toBe("BATON_UNAUTHORIZED");
    }
    expect((await features(clientToken)).status).toBe(200);
    expect((await features(`Bearer ${clientToken}`)).status).toBe(200);
    for (const auth of [clientToken, `Bearer ${clientToken}`])
      expect((await fx.call("GET", "/v1/flags", undefined, {}, auth)).status).toBe(401);
  });
});

describe("the OpenAPI document", () => {
  it("describes the flag routes, and the answers they really give", async () => {
    const doc = (await fx.call("GET", "/v1/openapi.json", undefined, {}, null)).body;
    expect(Object.keys(doc.paths["/v1/flags/{name}"]).sort()).toEqual(["delete", "get", "put"]);
    for (const path of [
      "/v1/flags",
      "/v1/flags/tokens",
      "/v1/flags/apply",
      "/v1/flags/export",
      "/v1/flags/{name}/history",
    ])
      expect(doc.paths[path], path).toBeDefined();
    expect(doc.paths["/v1/flags/{name}"].put.responses["409"].description).toContain("BATON_FLAG_CONFLICT");
    expect(doc.paths["/v1/flags/{name}/rollout"].post.responses["422"].description).toContain(
      "BATON_FLAG_NO_ROLLOUT",
    );
    const conforms = openApiConformance(doc, (method, path, body) => fx.call(method, path, body));
    await conforms("PUT", "/v1/flags/documented", "/v1/flags/{name}", rolloutFlag("documented", 3));
    await conforms("GET", "/v1/flags/documented", "/v1/flags/{name}");
    await conforms("GET", "/v1/flags", "/v1/flags");
    await conforms("POST", "/v1/flags/documented/rollout", "/v1/flags/{name}/rollout", { percent: 4 });
    await conforms("GET", "/v1/flags/documented/history", "/v1/flags/{name}/history");
    await conforms("GET", "/v1/flags/tokens", "/v1/flags/tokens");
    await conforms("GET", "/v1/flags/export", "/v1/flags/export");
    await conforms("PUT", "/v1/flags/documented", "/v1/flags/{name}", { enabled: 1, strategies: [] });
    await conforms("DELETE", "/v1/flags/documented", "/v1/flags/{name}");
  });
});

describe("the Unleash client API", () => {
  const client = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fx.call(method, path, body, headers, clientToken);

  it("serves the state in Unleash's format with a strong ETag, and 304 while it is unchanged", async () => {
    const first = await client("GET", "/api/client/features");
    expect(first.body).toMatchObject({
      version: 2,
      features: expect.any(Array),
      segments: expect.any(Array),
    });
    expect(first.body.features.map((f: Flag) => f.name)).toContain("new-checkout");
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const unchanged = await request(`${fx.api.url}/api/client/features`, {
      headers: { authorization: clientToken, "if-none-match": etag },
    });
    expect(unchanged.statusCode).toBe(304);
    expect(await unchanged.body.text()).toBe("");
    await fx.call("POST", "/v1/flags/new-checkout/rollout", { percent: 30 });
    const changed = await client("GET", "/api/client/features", undefined, { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    const prefixed = await client("GET", "/api/client/features?namePrefix=batch-");
    expect(prefixed.body.features.map((f: Flag) => f.name)).toEqual(["batch-a", "batch-b"]);
    expect(prefixed.body.query).toEqual({ namePrefix: "batch-" });
  });

  it("accepts registrations, and metrics in Unleash's format, which GET /v1/flags/:name then shows", async () => {
    expect((await client("POST", "/api/client/register", { appName: "shop", instanceId: "i1" })).status).toBe(
      202,
    );
    const report = {
      appName: "shop",
      instanceId: "i1",
      bucket: {
        start: new Date().toISOString(),
        stop: new Date().toISOString(),
        toggles: { "new-checkout": { yes: 3, no: 7, variants: { blue: 2 } } },
      },
    };
    expect((await client("POST", "/api/client/metrics", report)).status).toBe(202);
    expect((await client("POST", "/api/client/metrics", report)).status).toBe(202);
    const bad = await client("POST", "/api/client/metrics", {
      ...report,
      bucket: { ...report.bucket, toggles: { x: { yes: -1, no: 0 } } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("bucket.toggles.x.yes");
    const metrics = (await fx.call("GET", "/v1/flags/new-checkout")).body.metrics;
    expect(metrics).toMatchObject({ yes: 6, no: 14, variants: { blue: 4 }, apps: ["shop"] });
  });

  it("streams a hydration, then each change within milliseconds, heartbeats, and resumes from Last-Event-ID", async () => {
    const stream = await openStream(fx.api.url, clientToken);
    const hello = await stream.next();
    expect(hello.event).toBe("unleash-connected");
    const hydration = JSON.parse(hello.data).events[0];
    expect(hydration.type).toBe("hydration");
    expect(hydration.eventId).toBe(Number(hello.id));
    expect(hydration.features.map((f: Flag) => f.name)).toContain("new-checkout");

    const at = performance.now();
    await fx.call("POST", "/v1/flags/new-checkout/rollout", { percent: 40 });
    const update = await stream.next();
    const elapsed = performance.now() - at;
    expect(update.event).toBe("unleash-updated");
    const [event] = JSON.parse(update.data).events;
    expect(event).toMatchObject({ type: "feature-updated", feature: { name: "new-checkout" } });
    expect(event.feature.strategies[0].parameters.rollout).toBe("40");
    expect(elapsed).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 450));
    expect(stream.comments()).toBeGreaterThan(0); // heartbeats every 200 ms here
    stream.close();

    // Missed while away: exactly the changes after the last id seen.
    await fx.call("POST", "/v1/flags/new-checkout/rollout", { percent: 41 });
    await fx.call("DELETE", "/v1/flags/race");
    const resumed = await openStream(fx.api.url, clientToken, update.id);
    const missed = await resumed.next();
    expect(missed.event).toBe("unleash-updated");
    expect(JSON.parse(missed.data).events.map((e: { type: string }) => e.type)).toEqual([
      "feature-updated",
      "feature-removed",
    ]);
    resumed.close();
    const stranger = await openStream(fx.api.url, clientToken, "999999");
    expect((await stranger.next()).event).toBe("unleash-connected");
    stranger.close();
    const refused = await request(`${fx.api.url}/api/client/streaming`, {
      headers: { authorization: ADMIN_TOKEN },
    });
    expect(refused.statusCode).toBe(401);
    await refused.body.text();
  });

  it("cuts a client that does not read, instead of buffering for it without bound", async () => {
    const socket = connect(Number(new URL(fx.api.url).port), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(`GET /api/client/streaming HTTP/1.1\r\nHost: x\r\nAuthorization: ${clientToken}\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    socket.pause(); // reads nothing more
    const connected = fx.flags.stream.size;
    expect(connected).toBeGreaterThan(0);
    const big = rolloutFlag("big", 1, { description: "x".repeat(200_000) } as Partial<Flag>);
    const cutBefore = fx.flags.stream.cut;
    for (let i = 0; i < 200 && fx.flags.stream.cut === cutBefore; i++) {
      fx.flags.stream.publish([
        { type: "feature-updated", eventId: fx.flags.snapshot.changeId, feature: big },
      ]);
      await new Promise((r) => setImmediate(r));
    }
    expect(fx.flags.stream.cut).toBe(cutBefore + 1);
    expect(fx.flags.stream.size).toBe(connected - 1);
    socket.destroy();
  });
});
