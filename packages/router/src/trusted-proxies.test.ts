import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CidrSet, cidrProblem } from "./cidr-set.js";
import { parseRouterConfig, validateRouterConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { type HttpUpstream, startHttpUpstream } from "./test-support/http-upstream.js";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";
import { TrustedProxies } from "./trusted-proxies.js";

describe("trusted proxy ranges", () => {
  it("matches IPv4, IPv6 and IPv4-mapped addresses against CIDR ranges", () => {
    const set = new CidrSet([
      "10.0.0.0/8",
      "127.0.0.1",
      "fd00::/8",
      "2001:db8:1::/48",
      "::ffff:192.168.0.0/112",
    ]);
    for (const yes of [
      "10.0.0.1",
      "10.255.255.255",
      "127.0.0.1",
      "::ffff:127.0.0.1",
      "::ffff:10.1.2.3",
      "fd12:3456::1",
      "2001:db8:1:ffff::7",
      "192.168.3.4",
    ])
      expect(set.has(yes), yes).toBe(true);
    for (const no of [
      "11.0.0.1",
      "127.0.0.2",
      "::1",
      "fe80::1",
      "2001:db8:2::1",
      "192.169.0.1",
      "garbage",
      "",
      "10.0.0",
      "010.0.0.1",
      "1.2.3.4.5",
      "::ffff:1.2.3.4",
    ])
      expect(set.has(no), no).toBe(false);
    expect(new CidrSet(["0.0.0.0/0"]).has("203.0.113.9")).toBe(true);
    expect(new CidrSet(["::/0"]).has("2001:db8::1")).toBe(true);
    // Everything IPv6 includes IPv4-mapped peers (Node reports IPv4 clients so on dual-stack sockets).
    expect(new CidrSet(["::/0"]).has("::ffff:203.0.113.9")).toBe(true);
  });

  it("names what is wrong with a bad entry", () => {
    for (const ok of ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8", "0.0.0.0/0", "::ffff:10.0.0.0/104"])
      expect(cidrProblem(ok), ok).toBeUndefined();
    expect(cidrProblem("10.0.0.0/33")).toMatch(
      /"10\.0\.0\.0\/33" has an invalid prefix length "\/33" \(0-32/,
    );
    expect(cidrProblem("fd00::/129")).toMatch(/0-128 for IPv6/);
    expect(cidrProblem("localhost")).toMatch(/"localhost" is not an IP address or CIDR range/);
    expect(cidrProblem("10.0.0.0/")).toMatch(/invalid prefix length/);
    expect(cidrProblem("10.0.0.0/08")).toMatch(/invalid prefix length "\/08"/);
    expect(cidrProblem("300.0.0.1")).toMatch(/not an IP address/);
  });

  it("takes the right-most untrusted hop of X-Forwarded-For as the client", () => {
    const t = new TrustedProxies(["127.0.0.1", "10.0.0.0/8"]);
    expect(t.clientAddress("198.51.100.1, 203.0.113.7", "127.0.0.1")).toBe("203.0.113.7");
    expect(t.clientAddress("198.51.100.1, 203.0.113.7, 10.1.2.3", "127.0.0.1")).toBe("203.0.113.7");
    expect(t.clientAddress("203.0.113.7:5123,10.1.2.3", "127.0.0.1")).toBe("203.0.113.7");
    expect(t.clientAddress("[2001:db8::7]:443", "127.0.0.1")).toBe("2001:db8::7");
    expect(t.clientAddress("10.9.9.9, 10.1.2.3", "127.0.0.1")).toBe("10.9.9.9");
    expect(t.clientAddress(" , ", "127.0.0.1")).toBe("127.0.0.1");
    expect(new TrustedProxies([]).trusts("127.0.0.1")).toBe(false);
  });
});

describe("trustedProxies in the router config", () => {
  it("refuses a bad entry with an error naming it", () => {
    const bad = () =>
      validateRouterConfig({ listen: "127.0.0.1:0", trustedProxies: ["10.0.0.0/8", "10.0.0.0/33"] });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/trustedProxies\[1\].*"10\.0\.0\.0\/33" has an invalid prefix length/);
    expect(() =>
      parseRouterConfig("listen: 8080\ntrustedProxies:\n  - 127.0.0.1\n  - lb.internal\n"),
    ).toThrow(/router\.yaml:4:5: trustedProxies\[1\]: "lb\.internal" is not an IP address or CIDR range/);
    expect(validateRouterConfig({ listen: "127.0.0.1:0" }).trustedProxies).toEqual([]);
  });
});

describe("X-Forwarded-For and X-Forwarded-Proto", () => {
  let stable: HttpUpstream;
  let canary: HttpUpstream;
  let fx: RouterFixture;
  // assign: address, and an allow-list keyed by a client address: the canary answers exactly when
  // the router took 203.0.113.7 for the client.
  const service = {
    name: "svc",
    stickiness: { assign: "address" as const },
    tracks: {
      stable: { version: "v1", weight: 10_000, instances: [] as string[] },
      canary: { version: "v2", weight: 0, instances: [] as string[], allow: ["203.0.113.7"] },
    },
  };
  const config = (trustedProxies: string[]) =>
    validateRouterConfig({
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      trustedProxies,
      services: [service],
    });

  beforeAll(async () => {
    [stable, canary] = await Promise.all([startHttpUpstream(), startHttpUpstream()]);
    service.tracks.stable.instances = [stable.address];
    service.tracks.canary.instances = [canary.address];
    fx = await startRouter([service]);
  });
  afterAll(async () => {
    await fx?.close();
    await Promise.all([stable?.close(), canary?.close()]);
  });

  async function send(headers: Record<string, string>) {
    stable.seen.length = 0;
    canary.seen.length = 0;
    const res = await request(fx.url, { headers });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const seen = [...stable.seen, ...canary.seen][0]!;
    const sc = res.headers["set-cookie"];
    return {
      version: res.headers["x-baton-version"],
      xff: seen["x-forwarded-for"],
      proto: seen["x-forwarded-proto"],
      setCookie: sc === undefined ? undefined : String(sc),
    };
  }

  it("replaces them when the peer is not a trusted proxy", async () => {
    const r = await send({ "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" });
    expect(r).toMatchObject({ xff: "127.0.0.1", proto: "http", version: "v1" });
  });

  it("appends to them from a trusted proxy, and takes the right-most untrusted hop for the client", async () => {
    await fx.router.reload(config(["127.0.0.1", "10.0.0.0/8"]));
    const r = await send({
      "x-forwarded-for": "198.51.100.1, 203.0.113.7, 10.1.2.3",
      "x-forwarded-proto": "https",
    });
    expect(r).toMatchObject({ xff: "198.51.100.1, 203.0.113.7, 10.1.2.3, 127.0.0.1", proto: "https" });
    expect(r.version).toBe("v2");
    // A client naming someone else to the left of its own address gains nothing.
    const spoof = await send({ "x-forwarded-for": "203.0.113.7, 198.51.100.9" });
    expect(spoof).toMatchObject({
      xff: "203.0.113.7, 198.51.100.9, 127.0.0.1",
      proto: "http",
      version: "v1",
    });

    // Trust moved elsewhere: the same request is the loopback peer's own again.
    await fx.router.reload(config(["10.0.0.0/8"]));
    const after = await send({ "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" });
    expect(after).toMatchObject({ xff: "127.0.0.1", proto: "http", version: "v1" });
  });

  it("marks the assigned cookie Secure only when a trusted proxy says the client used https", async () => {
    // A split (two weighted tracks) is what makes the router assign a key at all.
    const cookieService = {
      ...service,
      stickiness: { assign: "cookie" },
      tracks: {
        stable: { ...service.tracks.stable, weight: 9000 },
        canary: { ...service.tracks.canary, weight: 1000 },
      },
    };
    const withCookies = (trusted: string[]) =>
      validateRouterConfig({ ...config(trusted), services: [cookieService] } as never);
    await fx.router.reload(withCookies([]));
    expect((await send({ "x-forwarded-proto": "https" })).setCookie).not.toMatch(/Secure/);
    await fx.router.reload(withCookies(["127.0.0.1"]));
    expect((await send({ "x-forwarded-proto": "https" })).setCookie).toMatch(/; Secure$/);
    expect((await send({ "x-forwarded-proto": "http" })).setCookie).not.toMatch(/Secure/);
  });
});
