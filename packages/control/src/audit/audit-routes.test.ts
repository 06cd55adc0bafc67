import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";
import { openApiConformance } from "../test-support/openapi-conformance.js";

let fx: Awaited<ReturnType<typeof startDashboardApi>>;
/** The boundary between the two batches of events, as an ISO time. */
let between: string;

beforeAll(async () => {
  fx = await startDashboardApi("audit_routes");
  const append = fx.plane.audit.append.bind(fx.plane.audit);
  await append({
    actor: "alice",
    action: "release.started",
    service: "shop",
    version: "v1",
    strategy: "canary",
  });
  await append({ actor: "alice", action: "release.succeeded", service: "shop", version: "v1" });
  await append({
    actor: "bob",
    action: "flag.updated",
    service: "shop",
    details: { flag: "Dark_Mode", note: "50% off" },
  });
  await new Promise((r) => setTimeout(r, 20));
  between = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await append({ actor: "bob", action: "release.started", service: "shop", version: "v2" });
  await append({
    actor: "carol",
    action: "release.rolled-back",
    service: "billing",
    version: "v2",
    details: { reason: "error rate 0.3" },
  });
  for (let i = 0; i < 5; i++) await append({ actor: "ci", action: "releases.noise", service: "shop" });
});
afterAll(async () => fx?.close());

const get = async (query: string) => {
  const res = await fx.send("GET", `/v1/audit${query}`, { bearer: DASHBOARD_TOKEN });
  return res;
};
const actions = async (query: string) => {
  const res = await get(query);
  expect(res.status, res.text).toBe(200);
  return (res.body.events as { action: string; actor: string; seq: number }[]).map(
    (e) => `${e.seq} ${e.actor} ${e.action}`,
  );
};

describe("GET /v1/audit", () => {
  it("lists events newest first, with the chain's head", async () => {
    const res = await get("");
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: { seq: number }) => e.seq)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(res.body.next).toBeNull();
    expect(res.body.head).toEqual({ seq: 10, hash: res.body.events[0].hash });
    expect(res.body.events[9]).toMatchObject({ actor: "alice", strategy: "canary", version: "v1" });
  });

  it("narrows by action (exact or prefix), actor, service, version, time and text", async () => {
    expect(await actions("?action=release.started")).toEqual([
      "4 bob release.started",
      "1 alice release.started",
    ]);
    // A prefix ends at a dot: `release.` is not `releases.`.
    const prefixed = [
      "5 carol release.rolled-back",
      "4 bob release.started",
      "2 alice release.succeeded",
      "1 alice release.started",
    ];
    expect(await actions("?action=release.")).toEqual(prefixed);
    expect(await actions("?action=release.*")).toEqual(prefixed);
    expect(await actions("?action=release")).toEqual([]);
    expect(await actions("?actor=bob")).toEqual(["4 bob release.started", "3 bob flag.updated"]);
    expect(await actions("?service=billing")).toEqual(["5 carol release.rolled-back"]);
    expect(await actions("?version=v2&action=release.started")).toEqual(["4 bob release.started"]);
    expect(await actions(`?until=${between}`)).toEqual([
      "3 bob flag.updated",
      "2 alice release.succeeded",
      "1 alice release.started",
    ]);
    expect(await actions(`?since=${encodeURIComponent(between)}&actor=carol`)).toEqual([
      "5 carol release.rolled-back",
    ]);
    expect(await actions("?since=2000-01-01&until=2000-01-02")).toEqual([]);
    // Case-insensitive, and % or _ are themselves (not LIKE's wildcards).
    expect(await actions("?q=dark_mode")).toEqual(["3 bob flag.updated"]);
    expect(await actions("?q=50%25")).toEqual(["3 bob flag.updated"]);
    expect(await actions("?q=dark%25")).toEqual([]);
    expect(await actions("?q=ERROR%20RATE")).toEqual(["5 carol release.rolled-back"]);
  });

  it("pages by keyset: `next` as `before` walks every event once, whatever the page size", async () => {
    const all = await actions("");
    for (const limit of [1, 3, 4]) {
      const seen: string[] = [];
      let before = "";
      for (let pages = 0; pages < 20; pages++) {
        const res = await get(`?limit=${limit}${before}`);
        expect(res.body.events.length).toBeLessThanOrEqual(limit);
        seen.push(
          ...res.body.events.map(
            (e: { seq: number; actor: string; action: string }) => `${e.seq} ${e.actor} ${e.action}`,
          ),
        );
        if (res.body.next === null) break;
        before = `&before=${res.body.next}`;
      }
      expect(seen, `limit ${limit}`).toEqual(all);
    }
    expect(await actions("?before=3")).toEqual(["2 alice release.succeeded", "1 alice release.started"]);
    const page = await get("?actor=alice&limit=1");
    expect(page.body.next).toBe(2);
    expect((await get("?actor=alice&limit=1&before=2")).body).toMatchObject({
      next: null,
      events: [{ seq: 1 }],
    });
  });

  it("refuses a bad parameter with 400 naming it", async () => {
    const bad: [string, string, RegExp][] = [
      ["?limit=0", "limit", /1 to 500/],
      ["?limit=501", "limit", /1 to 500/],
      ["?limit=ten", "limit", /whole number/],
      ["?before=0", "before", /sequence number/],
      ["?before=-1", "before", /sequence number/],
      ["?since=yesterday", "since", /ISO 8601/],
      ["?since=2026-01-01T08:00", "since", /zone/],
      ["?until=2026-02-30", "until", /exists/],
      ["?until=2026-01-01T24:30Z", "until", /exists/],
      ["?since=2026-01-02&until=2026-01-01", "until", /later than since/],
      ["?action=", "action", /empty/],
      ["?action=*", "action", /prefix/],
      ["?actor=a%0Ab", "actor", /control characters/],
      ["?version=..", "version", /letters, digits/],
      ["?q=" + "x".repeat(201), "q", /200/],
      ["?acter=bob", "acter", /unknown parameter "acter" \(accepted: action, actor/],
      ["?actor=a&actor=b", "actor", /more than once/],
    ];
    for (const [query, field, message] of bad) {
      const res = await get(query);
      expect(res.status, query).toBe(400);
      expect(res.body.error, query).toMatchObject({ code: "BATON_BAD_REQUEST", field });
      expect(res.body.error.message, query).toMatch(message);
    }
  });

  it("needs the token or a session, and is described in the OpenAPI document", async () => {
    expect((await fx.send("GET", "/v1/audit")).status).toBe(401);
    expect((await fx.send("GET", "/v1/audit", { bearer: "wrong" })).status).toBe(401);
    expect((await fx.send("GET", "/v1/audit", { cookie: "baton_session=forged" })).status).toBe(401);
    const { cookie } = await fx.login();
    const bySession = await fx.send("GET", "/v1/audit?limit=1", { cookie });
    expect(bySession.status).toBe(200);
    expect(bySession.body.events).toHaveLength(1);

    const doc = (await fx.send("GET", "/v1/openapi.json")).body;
    const op = doc.paths["/v1/audit"].get;
    expect(op.operationId).toBe("listAudit");
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual([
      "action",
      "actor",
      "service",
      "version",
      "since",
      "until",
      "q",
      "limit",
      "before",
    ]);
    const conforms = openApiConformance(doc, async (method, path) => {
      const res = await fx.send(method, path, { bearer: DASHBOARD_TOKEN });
      return { status: res.status, body: res.body };
    });
    await conforms("GET", "/v1/audit?action=release.&limit=2", "/v1/audit");
    await conforms("GET", "/v1/audit?limit=0", "/v1/audit");
  });
});
