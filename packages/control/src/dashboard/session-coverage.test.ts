import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_ROUTES } from "../flags/client-api.js";
import { RELEASE_METRICS_ROUTE } from "../release-metrics/release-metrics-api.js";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";
import { DASHBOARD_ROUTES } from "./dashboard.js";

/**
 * Nothing is possible in the dashboard without a valid session: every route the API serves (each
 * one its OpenAPI document describes, from the same list; the dashboard's own; Unleash's client
 * API), asked without
 * credentials, with a forged cookie, and, for every change, with a good cookie but no CSRF token.
 */
let fx: Awaited<ReturnType<typeof startDashboardApi>>;
let routes: { method: string; path: string; public: boolean; client: boolean }[];

beforeAll(async () => {
  fx = await startDashboardApi("session_coverage", {}, { everything: true });
  await fx.flags.put("checkout", { enabled: false, strategies: [{ name: "default" }] }, { actor: "test" });
  // The routes the API serves, as its OpenAPI document describes them (with every option on).
  const doc = await fx.send("GET", "/v1/openapi.json");
  expect(doc.status).toBe(200);
  const described = Object.entries<Record<string, { security?: unknown[] }>>(doc.body.paths).flatMap(
    ([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        // Any value reaches the auth check: it runs before a path parameter is read.
        path: path.replace(/\{(\w+)\}/g, (_, name: string) => (/id$/i.test(name) ? "1" : "checkout")),
        public: Array.isArray(op.security) && op.security.length === 0,
        client: false,
      })),
  );
  expect(described.map((r) => `${r.method} ${r.path}`)).toEqual(
    expect.arrayContaining([
      "POST /v1/migration/complete",
      "GET /v1/flags/checkout/guarded-rollout",
      "POST /v1/down",
      "GET /v1/audit",
    ]),
  );
  const dashboard = DASHBOARD_ROUTES.map((r) => ({
    ...r,
    public: r.path === "/" || (r.method === "POST" && r.path === "/v1/session"),
    client: false,
  }));
  const client = [...CLIENT_ROUTES, RELEASE_METRICS_ROUTE].map((r) => ({
    ...r,
    public: false,
    client: true,
  }));
  routes = [...described, ...dashboard, ...client];
});
afterAll(async () => fx?.close());

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What a change could touch: all of it read with the admin token. */
async function state() {
  const read = async (path: string) => (await fx.send("GET", path, { bearer: DASHBOARD_TOKEN })).body;
  return {
    audit: (await read("/v1/audit?limit=1")).head,
    releases: await read("/v1/releases"),
    flags: await read("/v1/flags"),
    tokens: await read("/v1/flags/tokens"),
    schedule: await read("/v1/flags/schedule"),
    sessions: await fx.dashboard.sessions.count(),
    downs: fx.downs.count,
  };
}

describe("every route without a valid session", () => {
  it("covers the routes baton up serves (OpenAPI, dashboard, client API)", () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const expected of [
      "POST /v1/deploy",
      "POST /v1/down",
      "GET /v1/audit",
      "PUT /v1/flags/checkout",
      "DELETE /v1/flags/checkout",
      "DELETE /v1/session",
      "POST /v1/session/link",
      "GET /v1/events",
      "POST /api/client/release-metrics",
    ])
      expect(names).toContain(expected);
    expect(routes.length).toBeGreaterThan(30);
  });

  it("answers 401 to every non-public route, with no credentials or a forged cookie", async () => {
    const refused: string[] = [];
    for (const route of routes.filter((r) => !r.public))
      for (const cookie of [undefined, "baton_session=forged-0123456789"]) {
        const res = await fx.send(route.method, route.path, {
          ...(CHANGES.has(route.method) ? { body: {} } : {}),
          ...(cookie ? { cookie } : {}),
          headers: { origin: fx.api.url, "sec-fetch-site": "same-origin" },
        });
        if (res.status !== 401)
          refused.push(`${route.method} ${route.path} (${cookie ?? "none"}): ${res.status}`);
        else expect(res.body.error.code).toBe("BATON_UNAUTHORIZED");
      }
    expect(refused).toEqual([]);
  });

  it("answers 403 to every change with a valid cookie but no (or a wrong) CSRF token, or from another site, and changes nothing", async () => {
    const { cookie, csrf } = await fx.login();
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200); // the cookie is good
    const before = await state();
    const wrong: string[] = [];
    const changes = routes.filter((r) => CHANGES.has(r.method) && !r.public && !r.client);
    expect(changes.length).toBeGreaterThan(15);
    for (const route of changes) {
      const attempts: [string, Record<string, string>, RegExp][] = [
        ["no token", { origin: fx.api.url, "sec-fetch-site": "same-origin" }, /x-baton-csrf/],
        [
          "wrong token",
          { origin: fx.api.url, "sec-fetch-site": "same-origin", "x-baton-csrf": `${csrf}x` },
          /not this session's token/,
        ],
        [
          "another site",
          { origin: "http://evil.example", "sec-fetch-site": "cross-site", "x-baton-csrf": csrf },
          /Sec-Fetch-Site is cross-site/,
        ],
        ["no Origin", { "x-baton-csrf": csrf }, /needs an Origin header/],
      ];
      for (const [what, headers, message] of attempts) {
        const res = await fx.send(route.method, route.path, { cookie, body: {}, headers });
        if (res.status !== 403 || !message.test(res.body?.error?.message ?? ""))
          wrong.push(`${route.method} ${route.path} (${what}): ${res.status} ${res.text.slice(0, 160)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await state()).toEqual(before);
    // Still signed in: the refused DELETE /v1/session logged nobody out.
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200);
  });

  it("opens no client-API route with a session, even with its CSRF token", async () => {
    const { cookie, csrf } = await fx.login();
    const headers = { origin: fx.api.url, "sec-fetch-site": "same-origin", "x-baton-csrf": csrf };
    for (const route of routes.filter((r) => r.client)) {
      const res = await fx.send(route.method, route.path, {
        cookie,
        headers,
        ...(route.method === "POST" ? { body: {} } : {}),
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(401);
    }
  });
});

describe("a change made through a dashboard session", () => {
  it("is recorded as the dashboard's in the audit log, whatever actor its body claims", async () => {
    const { cookie, csrf } = await fx.login();
    const res = await fx.send("POST", "/v1/flags/checkout/enable", {
      cookie,
      body: { actor: "baton up" },
      headers: { origin: fx.api.url, "sec-fetch-site": "same-origin", "x-baton-csrf": csrf },
    });
    expect(res.status).toBe(200);
    const [latest] = (await fx.send("GET", "/v1/audit?limit=1", { bearer: DASHBOARD_TOKEN })).body.events;
    expect(latest).toMatchObject({ actor: "dashboard", service: "shop" });
    // The bearer token (the CLI, CI) still names its actor.
    await fx.send("POST", "/v1/flags/checkout/disable", {
      bearer: DASHBOARD_TOKEN,
      body: { actor: "alice" },
    });
    const [byToken] = (await fx.send("GET", "/v1/audit?limit=1", { bearer: DASHBOARD_TOKEN })).body.events;
    expect(byToken.actor).toBe("alice");
  });
});
