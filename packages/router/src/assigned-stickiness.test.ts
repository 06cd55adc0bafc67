import { connect } from "node:net";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type HttpUpstream, startHttpUpstream } from "./test-support/http-upstream.js";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";

const TOKEN = /^baton_sticky=([0-9a-z]{16}); Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/;

let stable: HttpUpstream;
let canary: HttpUpstream;
let fx: RouterFixture;
let agent: Agent;

const service = (
  name: string,
  extra: Record<string, unknown> = {},
  canaryExtra: Record<string, unknown> = {},
) => ({
  name,
  hosts: [`${name}.test`],
  tracks: {
    stable: { version: "v1", weight: 9000, instances: [stable.address] },
    canary: { version: "v2", weight: 1000, instances: [canary.address], ...canaryExtra },
  },
  ...extra,
});

interface Answer {
  status: number;
  version: string;
  cookies: string[];
}

async function get(host: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(fx.url, { dispatcher: agent, headers: { host, ...headers } });
  await res.body.dump();
  const raw = res.headers["set-cookie"];
  return {
    status: res.statusCode,
    version: String(res.headers["x-baton-version"]),
    cookies: raw === undefined ? [] : Array.isArray(raw) ? raw : [raw],
  };
}

/** `n` requests, 32 at a time, each from a client that keeps nothing between requests. */
async function many(n: number, one: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const out = new Array<Answer>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

const canaryShare = (answers: Answer[]) => answers.filter((a) => a.version === "v2").length / answers.length;
const assigned = (a: Answer) => a.cookies.map((c) => TOKEN.exec(c)?.[1]).find((t) => t !== undefined);

beforeAll(async () => {
  // The canary sets a cookie of its own on every answer: the router's must be added next to it.
  [stable, canary] = await Promise.all([
    startHttpUpstream(),
    startHttpUpstream((_req, res) => {
      res.setHeader("set-cookie", ["app_session=abc; Path=/", "theme=dark"]);
      res.end("ok");
    }),
  ]);
  agent = new Agent({ connections: 32 });
  fx = await startRouter([
    service("plain"),
    service("named", { stickiness: { header: "x-user-id", cookie: "uid" } }),
    // One basis point for the canary (so that there is a split): in practice only its allow-list reaches it.
    {
      name: "allow",
      hosts: ["allow.test"],
      stickiness: { header: "x-user-id" },
      tracks: {
        stable: { version: "v1", weight: 9999, instances: [stable.address] },
        canary: { version: "v2", weight: 1, instances: [canary.address], allow: ["vip", "aaaaaaaaaaaaaaaa"] },
      },
    },
    service("random", { stickiness: { assign: "random" } }),
    {
      name: "single",
      hosts: ["single.test"],
      tracks: { stable: { version: "v1", weight: 10_000, instances: [stable.address] } },
    },
  ]);
});
afterAll(async () => {
  await agent?.close();
  await fx?.close();
  await Promise.all([stable?.close(), canary?.close()]);
});

describe("assigned stickiness", () => {
  it("splits one address that keeps no cookies by the weights: 10% +/- 2pp of 4000 requests", async () => {
    const answers = await many(4000, () => get("plain.test"));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(Math.abs(canaryShare(answers) - 0.1)).toBeLessThanOrEqual(0.02);
    // Every answer offers a key; the canary's own cookies are kept, in order, before it.
    expect(answers.every((a) => assigned(a) !== undefined)).toBe(true);
    const fromCanary = answers.find((a) => a.version === "v2")!;
    expect(fromCanary.cookies.slice(0, 2)).toEqual(["app_session=abc; Path=/", "theme=dark"]);
    expect(new Set(answers.map(assigned)).size).toBeGreaterThan(3990); // a fresh key each time
  }, 60_000);

  it("keeps a client that sends its cookie back on one version; fresh clients spread by the weights", async () => {
    const clients = await many(2000, async () => {
      const first = await get("plain.test");
      const cookie = `other=1; baton_sticky=${assigned(first)}`;
      const again = await get("plain.test", { cookie });
      return { ...again, version: `${first.version}>${again.version}` };
    });
    // The answer that assigned the key was already routed by it: no client switches version.
    expect(clients.filter((c) => c.version === "v1>v2" || c.version === "v2>v1")).toEqual([]);
    expect(clients.every((c) => assigned(c) === undefined)).toBe(true); // a valid key is not reassigned
    const share = clients.filter((c) => c.version === "v2>v2").length / clients.length;
    expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.02);

    // One browser, 50 requests: one version, whichever it is. Found for both versions.
    for (const want of ["v1", "v2"]) {
      let cookie: string | undefined;
      for (let i = 0; i < 200 && cookie === undefined; i++) {
        const a = await get("plain.test");
        if (a.version === want) cookie = `baton_sticky=${assigned(a)}`;
      }
      const versions = new Set<string>();
      for (let i = 0; i < 50; i++) versions.add((await get("plain.test", { cookie: cookie! })).version);
      expect([...versions]).toEqual([want]);
    }
  }, 60_000);

  it("reassigns a forged, oversized or garbage baton_sticky cookie, never failing the request", async () => {
    const bad = [
      "",
      "x",
      "A".repeat(16), // upper case: not a key the router makes
      "0123456789abcdef0",
      "z".repeat(8000),
      "../../etc/passwd",
      '"quoted"',
      "%00%ff%0d%0a",
      "0123456789abcde\u00e9",
    ];
    for (const value of bad) {
      const a = await get("plain.test", { cookie: `baton_sticky=${value}` });
      expect(a.status, value).toBe(200);
      expect(assigned(a), value).toBeDefined();
    }
    // Raw bytes no HTTP client would send: a tab and non-ASCII octets (obs-text) in the value.
    const text = await rawRequest(
      Buffer.concat([
        Buffer.from("GET / HTTP/1.1\r\nHost: plain.test\r\nCookie: baton_sticky=a\tb"),
        Buffer.from([0x80, 0xff, 0xfe]),
        Buffer.from("; baton_sticky=\r\nConnection: close\r\n\r\n"),
      ]),
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/\r\nset-cookie: baton_sticky=[0-9a-z]{16};/i);
  });

  it("never lets a baton_sticky value reach an allow-listed track; header keys still do", async () => {
    expect((await get("allow.test", { "x-user-id": "vip" })).version).toBe("v2");
    // Token-shaped and allow-listed, but a cookie the router assigns names nobody.
    const forged = await get("allow.test", { cookie: "baton_sticky=aaaaaaaaaaaaaaaa" });
    expect(forged.version).toBe("v1");
    expect(forged.cookies).toEqual([]); // well-formed: kept, it only picks a bucket
    expect((await get("allow.test", { cookie: "baton_sticky=vip" })).version).toBe("v1");
  });

  it("assigns in the service's own sticky cookie, keeping the application's values as they are", async () => {
    const fresh = await get("named.test");
    expect(
      fresh.cookies.some((c) =>
        /^uid=[0-9a-z]{16}; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/.test(c),
      ),
    ).toBe(true);
    const app = await get("named.test", { cookie: "uid=user-42" });
    expect(app.cookies.filter((c) => c.startsWith("uid="))).toEqual([]);
    const header = await get("named.test", { "x-user-id": "user-42" });
    expect(header.version).toBe(app.version); // same key, same bucket, whichever way it came
    expect(header.cookies.filter((c) => c.startsWith("uid="))).toEqual([]);
    const huge = await get("named.test", { cookie: `uid=${"u".repeat(300)}` });
    expect(huge.status).toBe(200);
    expect(huge.cookies.some((c) => /^uid=[0-9a-z]{16};/.test(c))).toBe(true);
  });

  it("assigns nothing while a service has a single weighted track: no split, no cookie", async () => {
    const a = await get("single.test");
    expect(a).toEqual({ status: 200, version: "v1", cookies: [] });
  });

  it("splits per request without a cookie when assign is random", async () => {
    const answers = await many(2000, () => get("random.test"));
    expect(Math.abs(canaryShare(answers) - 0.1)).toBeLessThanOrEqual(0.02);
    expect(answers.every((a) => a.cookies.every((c) => !c.startsWith("baton_sticky=")))).toBe(true);
  }, 60_000);

  it("routes a WebSocket upgrade by an assigned key and sends it in the 101", async () => {
    const wss = new WebSocketServer({ server: canary.server });
    const stableWss = new WebSocketServer({ server: stable.server });
    try {
      const open = (cookie?: string) =>
        new Promise<{ cookie: string | undefined }>((resolve, reject) => {
          const ws = new WebSocket(`${fx.url.replace("http", "ws")}/ws`, {
            headers: { host: "plain.test", ...(cookie ? { cookie } : {}) },
          });
          ws.on("upgrade", (res) => {
            const sc = res.headers["set-cookie"];
            resolve({ cookie: sc?.[0] });
            ws.close();
          });
          ws.on("error", reject);
        });
      const first = await open();
      const token = TOKEN.exec(first.cookie ?? "")?.[1];
      expect(token).toBeDefined();
      const kept = await open(`baton_sticky=${token}`);
      expect(kept.cookie).toBeUndefined();
    } finally {
      wss.close();
      stableWss.close();
    }
  });
});

function rawRequest(bytes: Buffer): Promise<string> {
  const { port } = new URL(fx.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(bytes));
    let text = "";
    socket.on("data", (d) => (text += d.toString("latin1")));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}
