import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { validateRouterConfig } from "./config.js";
import { startLoad } from "./test-support/load.js";
import { type RouterFixture, startRouter, waitFor } from "./test-support/router-fixture.js";

/** A version that answers 200 on its own readiness path only (404 on any other /health path). */
async function instance(version: string, readyPath: string): Promise<{ address: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/health") || req.url === "/readyz") {
      res.writeHead(req.url === readyPath ? 200 : 404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(version);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const servers: Server[] = [];
let fx: RouterFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

const health = { path: "/health/new", interval: "100ms", timeout: "300ms", rise: 1, fall: 2 };

describe("a track's own health path", () => {
  it("checks each track on its own path while the service's path is another version's", async () => {
    const v1 = await Promise.all([instance("v1", "/readyz"), instance("v1", "/readyz")]);
    const v2 = await instance("v2", "/health/new");
    servers.push(...v1.map((i) => i.server), v2.server);
    const stable = {
      version: "v1",
      weight: 10_000,
      instances: v1.map((i) => i.address),
      health: { path: "/readyz" },
    };
    fx = await startRouter([{ name: "s", health, tracks: { stable } }]);
    const ready = async (track: string, n: number) =>
      (await fx!.admin("GET", "/v1/services/s")).body.tracks.find((t: { name: string }) => t.name === track)
        ?.ready === n;
    await waitFor(() => ready("stable", 2), 3000, "stable ready on /readyz");

    const load = startLoad({ url: fx.url, rate: 300, concurrency: 8 });
    try {
      // A canary whose version serves the service's new path; stable keeps its own.
      const put = await fx.admin("PUT", "/v1/services/s", {
        name: "s",
        health,
        tracks: {
          stable: { ...stable, weight: 5_000 },
          canary: { version: "v2", weight: 5_000, instances: [v2.address] },
        },
      });
      expect(put.status).toBe(200);
      await waitFor(() => ready("canary", 1), 3000, "canary ready on /health/new");
      await new Promise((r) => setTimeout(r, 800)); // several check intervals: stable stays in
      expect(await ready("stable", 2)).toBe(true);

      // Back to v1 alone (an abort): its instances keep their health, no check fails.
      const back = await fx.admin("PUT", "/v1/services/s", { name: "s", health, tracks: { stable } });
      expect(back.status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      expect(await ready("stable", 2)).toBe(true);
    } finally {
      const result = await load.stop();
      // Load ran throughout (a floor low enough for a busy machine: what matters is no failure).
      expect(result.sent).toBeGreaterThan(100);
      expect(result.failed, JSON.stringify(result.failures)).toBe(0);
      expect(result.byVersion.v2 ?? 0).toBeGreaterThan(0);
    }

    // Without the override, v1 is checked on the service's path: it leaves the table (the outage).
    await fx.admin("PUT", "/v1/services/s", {
      name: "s",
      health,
      pause: { timeout: "100ms" }, // the 503 at once, not after the default 5 s wait for an instance
      tracks: { stable: { version: "v1", weight: 10_000, instances: v1.map((i) => i.address) } },
    });
    await waitFor(() => ready("stable", 0), 3000, "v1 out on /health/new");
    const agent = new Agent();
    const res = await request(fx.url, { dispatcher: agent });
    await res.body.dump();
    expect(res.statusCode).toBe(503);
    await agent.close();
  }, 20_000);

  it("refuses a bad track health path, or one without the service's health checks, as a config error", () => {
    const service = (trackHealth: unknown, withHealth = true): never =>
      ({
        listen: "127.0.0.1:0",
        services: [
          {
            name: "s",
            ...(withHealth ? { health } : {}),
            tracks: {
              stable: { version: "v1", weight: 10_000, instances: ["127.0.0.1:1"], health: trackHealth },
            },
          },
        ],
      }) as never;
    expect(() => validateRouterConfig(service({ path: "/readyz" }))).not.toThrow();
    expect(() => validateRouterConfig(service({ path: "readyz" }))).toThrow(
      /services\[0\]\.tracks\.stable\.health\.path.*must start with \//s,
    );
    expect(() => validateRouterConfig(service({ path: "/ready z" }))).toThrow(/no spaces/);
    expect(() => validateRouterConfig(service({ path: "/readyz", interval: "1s" }))).toThrow(/interval/);
    expect(() => validateRouterConfig(service({ path: "/readyz" }, false))).toThrow(
      /tracks\.stable\.health.*the service has none/s,
    );
    // A config without track paths reads as before.
    expect(() => validateRouterConfig(service(undefined))).not.toThrow();
  });
});
