import { createRouter, type Router, silentLogger } from "@baton/router";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../providers/free-port.js";
import { RouterAdmin } from "../router-admin.js";
import { DASHBOARD_TOKEN, startDashboardApi } from "../test-support/dashboard-fixture.js";

let fx: Awaited<ReturnType<typeof startDashboardApi>>;
/** Release waves' live numbers: eu's router, and us's, which nothing answers for. */
let euRouter: Router;

beforeAll(async () => {
  euRouter = await createRouter(
    {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      services: [
        {
          name: "shop.eu",
          tracks: { stable: { version: "v2", weight: 10_000, instances: ["127.0.0.1:9"] } },
        },
      ],
    } as never,
    { logger: silentLogger },
  );
  const eu = new RouterAdmin(`http://127.0.0.1:${euRouter.adminAddress!.port}`);
  const us = new RouterAdmin(`http://127.0.0.1:${await freePort()}`);
  fx = await startDashboardApi("dashboard", {
    maxStreams: 2,
    intervalMs: 200,
    heartbeatMs: 150,
    regionStats: [
      { region: "eu", stats: (w) => eu.stats("shop.eu", w) },
      { region: "us", stats: (w) => us.stats("shop.us", w) },
    ],
  });
  await fx.flags.put("checkout", { enabled: false, strategies: [{ name: "default" }] }, { actor: "test" });
});
afterAll(async () => {
  await fx?.close();
  await euRouter?.close();
});

/** What a same-origin page's fetch sends with a change. */
const fromPage = (csrf: string) => ({
  origin: fx.api.url,
  "sec-fetch-site": "same-origin",
  "x-baton-csrf": csrf,
});

describe("the dashboard's page and assets", () => {
  it("serves the page under a strict CSP, with every asset it loads cached, compressed and under budget", async () => {
    const page = await fx.send("GET", "/", { headers: { "accept-encoding": "identity" } });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["cache-control"]).toBe("no-cache");
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toMatch(/unsafe/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    // The only inline script is the import map, allowed by its hash and nothing else.
    const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    const inline = scripts.filter((m) => m[2]!.trim() !== "");
    expect(inline.map((m) => m[1]!.trim())).toEqual(['type="importmap"']);
    const { createHash } = await import("node:crypto");
    expect(csp).toContain(`'sha256-${createHash("sha256").update(inline[0]![2]!).digest("base64")}'`);

    // Every URL the page and its modules load, followed like a browser: all 200, immutable.
    const importMap = JSON.parse(inline[0]![2]!).imports as Record<string, string>;
    const queue = [
      ...[...page.text.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!),
      ...Object.values(importMap),
    ];
    const seen = new Set<string>();
    let gzipBytes = Number(
      (await fx.send("GET", "/", { headers: { "accept-encoding": "gzip" } })).headers["content-length"],
    );
    while (queue.length > 0) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await fx.send("GET", url, { headers: { "accept-encoding": "gzip" } });
      expect(res.status, url).toBe(200);
      expect(res.headers["content-encoding"], url).toBe("gzip");
      expect(res.headers["cache-control"], url).toBe("public, max-age=31536000, immutable");
      gzipBytes += Number(res.headers["content-length"]);
      if (!url.endsWith(".js") && !url.endsWith(".mjs")) continue;
      const text = (await fx.send("GET", url, { headers: { "accept-encoding": "identity" } })).text;
      for (const m of text.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w{}\s,*]+from\s*)?["']([^"']+)["']/g)) {
        const spec = m[1]!;
        queue.push(importMap[spec] ?? new URL(spec, `http://x${url}`).pathname);
      }
    }
    expect(seen.size).toBeGreaterThan(12); // the pages, the shell, the four libraries
    expect(gzipBytes).toBe(fx.dashboard.assets.firstPageBytes());
    expect(gzipBytes).toBeLessThan(150 * 1024);
  });

  it("answers 304 to a cached page, and 404 naming the asset or the stale build", async () => {
    const page = await fx.send("GET", "/");
    expect(
      (await fx.send("GET", "/", { headers: { "if-none-match": String(page.headers.etag) } })).status,
    ).toBe(304);
    const build = fx.dashboard.assets.build;
    const missing = await fx.send("GET", `/assets/${build}/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe("no dashboard asset nope.js");
    const put = await fx.send("PUT", "/v1/session", { body: {}, bearer: DASHBOARD_TOKEN });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("POST, GET, DELETE");
    const stale = await fx.send("GET", "/assets/0123456789ab/app.js");
    expect(stale.status).toBe(404);
    expect(stale.body.error.message).toMatch(/build 0123456789ab .*reload the page/);
  });
});

describe("dashboard sessions", () => {
  it("exchanges the token for an HttpOnly, SameSite=Strict cookie that admits JSON requests", async () => {
    const { cookie, setCookie, csrf } = await fx.login();
    expect(setCookie).toMatch(/^baton_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    expect(setCookie).not.toContain(DASHBOARD_TOKEN);
    expect(csrf).toMatch(/^[\w-]{43}$/);
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200);
    expect((await fx.send("GET", "/v1/session", { cookie })).body).toMatchObject({
      auth: "session",
      csrfToken: csrf,
    });
  });

  it("admits nothing without a valid session or the bearer token, which works as before", async () => {
    for (const path of [
      "/v1/status",
      "/v1/flags",
      "/v1/releases",
      "/v1/audit/verify",
      "/v1/session",
      "/v1/events",
    ]) {
      expect((await fx.send("GET", path)).status, path).toBe(401);
      expect((await fx.send("GET", path, { cookie: "baton_session=forged-value" })).status, path).toBe(401);
      expect((await fx.send("GET", path, { cookie: "baton_session=" })).status, path).toBe(401);
    }
    expect((await fx.send("GET", "/v1/status", { bearer: DASHBOARD_TOKEN })).status).toBe(200);
    // A bearer token, when sent, decides alone: a good cookie does not rescue a wrong token.
    const { cookie } = await fx.login();
    const both = await fx.send("GET", "/v1/status", { cookie, bearer: "wrong-token" });
    expect(both.status).toBe(401);
    expect(both.body.error.code).toBe("BATON_UNAUTHORIZED");
    // The CLI's changes need no CSRF header: browsers cannot send its Authorization header cross-site.
    const enabled = await fx.send("POST", "/v1/flags/checkout/enable", { body: {}, bearer: DASHBOARD_TOKEN });
    expect(enabled.status).toBe(200);
    await fx.send("POST", "/v1/flags/checkout/disable", { body: {}, bearer: DASHBOARD_TOKEN });
  });

  it("refuses a cookie-authenticated change without its CSRF defence, naming what is missing", async () => {
    const { cookie, csrf } = await fx.login();
    const other = await fx.login();
    const attempts: [string, Record<string, string>, RegExp][] = [
      ["no Origin", { "x-baton-csrf": csrf }, /needs an Origin header/],
      [
        "cross-site Origin",
        { ...fromPage(csrf), origin: "https://evil.example" },
        /Origin https:\/\/evil\.example is not this API's/,
      ],
      [
        "cross-site fetch",
        { ...fromPage(csrf), "sec-fetch-site": "cross-site" },
        /Sec-Fetch-Site is cross-site/,
      ],
      [
        "same-site fetch",
        { ...fromPage(csrf), "sec-fetch-site": "same-site" },
        /Sec-Fetch-Site is same-site/,
      ],
      [
        "no CSRF header",
        { origin: fx.api.url, "sec-fetch-site": "same-origin" },
        /needs the header x-baton-csrf/,
      ],
      ["another session's token", fromPage(other.csrf), /not this session's token/],
      ["empty token", fromPage(""), /needs the header x-baton-csrf/],
    ];
    for (const [what, headers, message] of attempts) {
      const res = await fx.send("POST", "/v1/flags/checkout/enable", { body: {}, cookie, headers });
      expect(res.status, what).toBe(403);
      expect(res.body.error, what).toMatchObject({
        code: "BATON_FORBIDDEN",
        message: expect.stringMatching(message),
      });
    }
    expect((await fx.flags.get("checkout")).flag.enabled).toBe(false); // nothing changed
    const ok = await fx.send("POST", "/v1/flags/checkout/enable", {
      body: { actor: "dashboard" },
      cookie,
      headers: fromPage(csrf),
    });
    expect(ok.status).toBe(200);
    expect((await fx.flags.get("checkout")).flag.enabled).toBe(true);
    await fx.send("POST", "/v1/flags/checkout/disable", { body: {}, bearer: DASHBOARD_TOKEN });
    // The release actions take the same session: past auth, the control plane answers for itself.
    const promote = await fx.send("POST", "/v1/promote", {
      body: { actor: "dashboard" },
      cookie,
      headers: fromPage(csrf),
    });
    expect(promote.body.error.code).toBe("BATON_NO_RELEASE_RUNNING");
    const unsafe = await fx.send("POST", "/v1/rollback", {
      body: {},
      cookie,
      headers: { origin: fx.api.url },
    });
    expect(unsafe.status).toBe(403);
  });

  it("redeems a one-time login code once; a replayed, unknown or minted-by-bearer code is handled", async () => {
    const link = fx.dashboard.loginLink(fx.api.url);
    expect(link).toMatch(new RegExp(`^${fx.api.url}/#login=[\\w-]{43}$`));
    const code = link.split("#login=")[1]!;
    const first = await fx.send("POST", "/v1/session", { body: { code } });
    expect(first.status).toBe(201);
    expect(String(first.headers["set-cookie"])).toMatch(/^baton_session=/);
    const replay = await fx.send("POST", "/v1/session", { body: { code } });
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/unknown, expired or already used/);
    expect((await fx.send("POST", "/v1/session", { body: { code: "x".repeat(43) } })).status).toBe(401);
    // A script with the token can mint a link for a browser; a session cannot without its CSRF token.
    const minted = await fx.send("POST", "/v1/session/link", { body: {}, bearer: DASHBOARD_TOKEN });
    expect(minted.status).toBe(200);
    const again = minted.body.url.split("#login=")[1];
    expect((await fx.send("POST", "/v1/session", { body: { code: again } })).status).toBe(201);
  });

  it("answers malformed, huge or cross-site logins with a clear 4xx and no cookie", async () => {
    const cases: [string, Parameters<typeof fx.send>[2], number, RegExp][] = [
      ["wrong token", { body: { token: "nope" } }, 401, /wrong API token/],
      [
        "huge body",
        {
          raw: JSON.stringify({ token: "x".repeat(10_000) }),
          headers: { "content-type": "application/json" },
        },
        413,
        /over the limit/,
      ],
      ["long token", { body: { token: "x".repeat(600) } }, 400, /at most 512/],
      ["not JSON", { raw: "{token:", headers: { "content-type": "application/json" } }, 400, /not JSON/],
      ["text/plain", { raw: "token=x", headers: { "content-type": "text/plain" } }, 415, /application\/json/],
      ["an array", { body: [DASHBOARD_TOKEN] }, 400, /JSON object/],
      ["both", { body: { token: DASHBOARD_TOKEN, code: "abc" } }, 400, /exactly one/],
      ["neither", { body: {} }, 400, /exactly one/],
      ["a number", { body: { token: 42 } }, 400, /non-empty string/],
      [
        "cross-site",
        { body: { token: DASHBOARD_TOKEN }, headers: { origin: "https://evil.example" } },
        403,
        /not this API's/,
      ],
    ];
    for (const [what, s, status, message] of cases) {
      const res = await fx.send("POST", "/v1/session", s);
      expect(res.status, what).toBe(status);
      expect(res.body?.error?.message, what).toMatch(message);
      expect(res.headers["set-cookie"], what).toBeUndefined();
    }
  });

  it("logs out: the cookie is cleared and the session no longer admits anything", async () => {
    const { cookie, csrf } = await fx.login();
    const refused = await fx.send("DELETE", "/v1/session", { cookie, headers: { origin: fx.api.url } });
    expect(refused.status).toBe(403);
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(200);
    const out = await fx.send("DELETE", "/v1/session", { cookie, headers: fromPage(csrf) });
    expect(out.status).toBe(200);
    expect(String(out.headers["set-cookie"])).toMatch(/^baton_session=; .*Max-Age=0$/);
    expect((await fx.send("GET", "/v1/status", { cookie })).status).toBe(401);
    expect((await fx.send("DELETE", "/v1/session", { cookie, headers: fromPage(csrf) })).status).toBe(401);
  });
});

/** An event stream, read as the browser would: events and comment lines. */
async function openEvents(headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await request(`${fx.api.url}/v1/events`, { headers, signal: controller.signal });
  const events: { event: string; data: any }[] = [];
  let comments = 0;
  let buffer = "";
  let ended = false;
  if (res.statusCode === 200) {
    res.body.on("end", () => {
      ended = true;
    });
    res.body.setEncoding("utf8");
    res.body.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split("\n"))
          if (line.startsWith(":")) comments++;
          else fields[line.slice(0, line.indexOf(":"))] = line.slice(line.indexOf(":") + 1).trim();
        if (fields.event) events.push({ event: fields.event, data: JSON.parse(fields.data!) });
      }
    });
    res.body.on("error", () => {});
  }
  return {
    status: res.statusCode,
    headers: res.headers,
    body: (res.statusCode === 200 ? undefined : await res.body.json()) as any,
    events,
    comments: () => comments,
    /** Whether the server ended the stream. */
    ended: () => ended,
    close: () => controller.abort(),
  };
}

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("live events", () => {
  it("streams the status, the router's per-version stats and the flags' change id, with heartbeats", async () => {
    const { cookie } = await fx.login();
    const stream = await openEvents({ cookie });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      await until("two ticks and a heartbeat", () => stream.events.length >= 2 && stream.comments() >= 1);
      const { data } = stream.events[0]!;
      expect(data.status).toMatchObject({ service: "shop", serving: null, release: null, decisions: [] });
      expect(data.stats.windowSeconds).toBe(5);
      expect(data.stats.tracks).toEqual([
        expect.objectContaining({ version: "v1", current: true, requestsPerSecond: 0, errorRate: 0, p95: 0 }),
      ]);
      // Each instance as the router sees it, with its state and what it has in flight.
      expect(data.router.instances).toEqual([
        expect.objectContaining({
          address: "127.0.0.1:9",
          version: "v1",
          track: "stable",
          state: expect.any(String),
          inflight: 0,
          websockets: 0,
        }),
      ]);
      // Release waves: each region's router read side by side; one that does not answer says so.
      expect(data.regions).toEqual([
        {
          region: "eu",
          windowSeconds: 5,
          tracks: [expect.objectContaining({ version: "v2", current: true, requestsPerSecond: 0 })],
        },
        { region: "us", windowSeconds: 5, tracks: [], error: expect.stringMatching(/router/) },
      ]);
      const before = data.flags.changeId;
      await fx.flags.setEnabled("checkout", true, { actor: "test" });
      await until("the flag change", () => stream.events.at(-1)!.data.flags.changeId > before);
    } finally {
      stream.close();
    }
  });

  it("ends a cookie's streams when its session ends (logout in another tab), and keeps a bearer's", async () => {
    await until("earlier streams to close", () => fx.dashboard.openStreams === 0);
    const { cookie, csrf } = await fx.login();
    const tab = await openEvents({ cookie });
    const script = await openEvents({ authorization: `Bearer ${DASHBOARD_TOKEN}` });
    try {
      await until("a tick on both", () => tab.events.length > 0 && script.events.length > 0);
      const out = await fx.send("DELETE", "/v1/session", { cookie, headers: fromPage(csrf) });
      expect(out.body).toEqual({ loggedOut: true });
      await until("the tab's stream to end", () => tab.ended());
      const ticks = script.events.length;
      await until("the script's stream to go on", () => script.events.length > ticks + 1);
      expect(script.ended()).toBe(false);
      expect((await openEvents({ cookie })).status).toBe(401); // the browser's reconnect
    } finally {
      tab.close();
      script.close();
    }
  });

  it("is bounded: beyond its cap a stream is refused with 429, and a closed one frees its place", async () => {
    const { cookie } = await fx.login();
    await until("earlier streams to close", () => fx.dashboard.openStreams === 0);
    const a = await openEvents({ cookie });
    const b = await openEvents({ authorization: `Bearer ${DASHBOARD_TOKEN}` });
    const c = await openEvents({ cookie });
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect(c.body.error).toMatchObject({
      code: "BATON_TOO_MANY_STREAMS",
      message: expect.stringMatching(/2 event streams/),
    });
    a.close();
    await until("the closed stream to leave", () => fx.dashboard.openStreams === 1);
    const d = await openEvents({ cookie });
    expect(d.status).toBe(200);
    b.close();
    d.close();
    await until("every stream to leave", () => fx.dashboard.openStreams === 0);
  });
});
