import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";
import { openApiConformance } from "../test-support/openapi-conformance.js";

/**
 * The routes the dashboard's flag editor added: segments (list, put, delete) and `?dryRun=1` and
 * `file` on apply. Over HTTP, as the dashboard and the CLI call them, on a real database.
 */
let fx: Awaited<ReturnType<typeof startDashboardApi>>;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  fx = await startDashboardApi("segment_routes");
  session = await fx.login();
});
afterAll(async () => fx?.close());

const bearer = { bearer: DASHBOARD_TOKEN };
/** What the dashboard's fetch sends with a change. */
const page = () => ({
  cookie: session.cookie,
  headers: { origin: fx.api.url, "sec-fetch-site": "same-origin", "x-baton-csrf": session.csrf },
});
const beta = { contextName: "userId", operator: "IN", values: ["ann", "bob"] };

describe("segments", () => {
  it("are created, listed, used by a flag, refused deletion while used, then deleted", async () => {
    const put = await fx.send("PUT", "/v1/flags/segments/7", {
      ...page(),
      body: { name: "beta", constraints: [beta], actor: "dashboard" },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toEqual({ id: 7, name: "beta", constraints: [beta] });
    const list = await fx.send("GET", "/v1/flags/segments", bearer);
    expect(list.body).toEqual([{ id: 7, name: "beta", constraints: [beta] }]);

    const flag = await fx.send("PUT", "/v1/flags/seg-user", {
      ...bearer,
      body: { enabled: true, strategies: [{ name: "default", segments: [7] }] },
    });
    expect(flag.status, flag.text).toBe(200);
    const inUse = await fx.send("DELETE", "/v1/flags/segments/7", { ...page(), body: {} });
    expect(inUse.status).toBe(409);
    expect(inUse.body.error).toMatchObject({ code: "BATON_SEGMENT_IN_USE" });
    expect(inUse.body.error.message).toContain("seg-user");

    await fx.send("DELETE", "/v1/flags/seg-user", { ...bearer, body: {} });
    const gone = await fx.send("DELETE", "/v1/flags/segments/7", { ...page(), body: { actor: "dashboard" } });
    expect(gone.status, gone.text).toBe(200);
    expect(gone.body).toEqual({ deleted: true, id: 7 });
    expect((await fx.send("GET", "/v1/flags/segments", bearer)).body).toEqual([]);
    const again = await fx.send("DELETE", "/v1/flags/segments/7", { ...bearer, body: {} });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("BATON_UNKNOWN_SEGMENT");
    // The audit log has both.
    const history = await fx.flags.store.changesSince(0);
    expect(history.filter((c) => c.kind === "segment").map((c) => c.action)).toEqual([
      "segment.changed",
      "segment.deleted",
    ]);
  });

  it("a bad constraint is a 400 naming the segment's own field", async () => {
    const bad = await fx.send("PUT", "/v1/flags/segments/8", {
      ...bearer,
      body: { constraints: [{ contextName: "age", operator: "NUM_GT", value: "old" }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("constraints[0].value");
    expect(bad.body.error.message).toContain("constraints[0].value: not a number");
    const path = await fx.send("PUT", "/v1/flags/segments/x1", { ...bearer, body: { constraints: [] } });
    expect(path.status).toBe(400);
    expect(path.body.error.field).toBe("id");
    const other = await fx.send("PUT", "/v1/flags/segments/8", {
      ...bearer,
      body: { id: 9, constraints: [] },
    });
    expect(other.status).toBe(400);
    expect(other.body.error.field).toBe("id");
  });

  it("are refused without a token, and to a cookie without the CSRF header", async () => {
    const none = await fx.send("PUT", "/v1/flags/segments/9", { body: { constraints: [] } });
    expect(none.status).toBe(401);
    const noCsrf = await fx.send("PUT", "/v1/flags/segments/9", {
      cookie: session.cookie,
      headers: { origin: fx.api.url, "sec-fetch-site": "same-origin" },
      body: { constraints: [] },
    });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe("BATON_FORBIDDEN");
    expect((await fx.send("GET", "/v1/flags/segments", {})).status).toBe(401);
    expect((await fx.send("GET", "/v1/flags/segments", bearer)).body).toEqual([]);
  });
});

describe("apply with ?dryRun=1 and a file", () => {
  it("says what would change, with before and after, and writes nothing", async () => {
    await fx.send("PUT", "/v1/flags/dry-a", { ...bearer, body: { enabled: false, strategies: [] } });
    await fx.send("PUT", "/v1/flags/dry-b", { ...bearer, body: { enabled: true, strategies: [] } });
    const head = await fx.flags.store.head();
    const file = [
      "features:",
      "  - { name: dry-a, enabled: true, strategies: [] }",
      "  - { name: dry-b, enabled: true, strategies: [] }",
      "  - { name: dry-c, enabled: false, strategies: [{ name: default, segments: [3] }] }",
      "segments:",
      "  - { id: 3, constraints: [{ contextName: country, operator: IN, values: [NL] }] }",
    ].join("\n");
    const plan = await fx.send("POST", "/v1/flags/apply?dryRun=1", { ...page(), body: { file } });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.body).toMatchObject({
      dryRun: true,
      created: ["dry-c"],
      changed: ["dry-a"],
      unchanged: ["dry-b"],
      segments: [3],
    });
    expect(plan.body.changes.map((c: { kind: string; name: string }) => `${c.kind} ${c.name}`)).toEqual([
      "segment 3",
      "flag dry-a",
      "flag dry-c",
    ]);
    expect(plan.body.changes[1].before).toMatchObject({ enabled: false });
    expect(plan.body.changes[1].after).toMatchObject({ enabled: true });
    expect(await fx.flags.store.head()).toBe(head);
    expect((await fx.flags.get("dry-a")).flag.enabled).toBe(false);

    const applied = await fx.send("POST", "/v1/flags/apply", {
      ...page(),
      body: { file, actor: "dashboard" },
    });
    expect(applied.status, applied.text).toBe(200);
    expect(applied.body).toMatchObject({ created: ["dry-c"], changed: ["dry-a"], segments: [3] });
    expect(applied.body.dryRun).toBeUndefined();
  });

  it("refuses a bad file or body naming the field, dry run or not, and changes nothing", async () => {
    const head = await fx.flags.store.head();
    for (const path of ["/v1/flags/apply?dryRun=1", "/v1/flags/apply"]) {
      const bad = await fx.send("POST", path, {
        ...bearer,
        body: { flags: [{ name: "dry-d", enabled: true, strategies: [{ name: "flexibleRollout" }] }] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("flags[0].strategies[0].parameters.rollout");
      const badFile = await fx.send("POST", path, { ...bearer, body: { file: "- name: [" } });
      expect(badFile.status).toBe(400);
      expect(badFile.body.error.message).toMatch(/^file/);
    }
    const both = await fx.send("POST", "/v1/flags/apply", { ...bearer, body: { file: "[]", flags: [] } });
    expect(both.status).toBe(400);
    expect(both.body.error.field).toBe("file");
    const query = await fx.send("POST", "/v1/flags/apply?dryRun=yes", { ...bearer, body: { flags: [] } });
    expect(query.status).toBe(400);
    expect(query.body.error.field).toBe("dryRun");
    expect(await fx.flags.store.head()).toBe(head);
    expect((await fx.send("POST", "/v1/flags/apply?dryRun=1", { body: { flags: [] } })).status).toBe(401);
    const noCsrf = await fx.send("POST", "/v1/flags/apply?dryRun=1", {
      cookie: session.cookie,
      headers: { origin: fx.api.url },
      body: { flags: [] },
    });
    expect(noCsrf.status).toBe(403);
  });

  it("is in the OpenAPI document, which describes the answers really given", async () => {
    const doc = (await fx.send("GET", "/v1/openapi.json")).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/flags/segments", "/v1/flags/segments/{id}", "/v1/flags/apply"]),
    );
    expect(JSON.stringify(doc.paths["/v1/flags/apply"].post.parameters)).toContain("dryRun");
    const conforms = openApiConformance(doc, (method, path, body) =>
      fx.send(method, path, { ...bearer, ...(body === undefined ? {} : { body }) }),
    );
    const seg = { constraints: [{ contextName: "country", operator: "IN", values: ["SE"] }] };
    await conforms("PUT", "/v1/flags/segments/21", "/v1/flags/segments/{id}", seg);
    await conforms("PUT", "/v1/flags/segments/21", "/v1/flags/segments/{id}", { constraints: 1 });
    await conforms("GET", "/v1/flags/segments", "/v1/flags/segments");
    const flags = [{ name: "oa", enabled: true, strategies: [{ name: "default", segments: [21] }] }];
    await conforms("POST", "/v1/flags/apply?dryRun=1", "/v1/flags/apply", { flags });
    await conforms("POST", "/v1/flags/apply", "/v1/flags/apply", { flags });
    await conforms("DELETE", "/v1/flags/segments/21", "/v1/flags/segments/{id}", {});
    await conforms("DELETE", "/v1/flags/segments/22", "/v1/flags/segments/{id}", {});
  });
});
