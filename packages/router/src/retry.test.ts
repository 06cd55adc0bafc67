import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";

/**
 * An instance that crashes mid-request: it reads the whole request, counts it, then resets the
 * connection without answering. Whatever reached it, reached "the application".
 */
async function crashingInstance(): Promise<{ server: Server; address: string; received: string[] }> {
  const received: string[] = [];
  const server = createServer((socket: Socket) => {
    let buf = "";
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const id = /x-request-id: (\S+)/i.exec(buf)?.[1] ?? "?";
      received.push(`${buf.split(" ")[0]} ${id}`);
      socket.resetAndDestroy();
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

let healthy: EchoInstance;
let crashing: Awaited<ReturnType<typeof crashingInstance>>;
let fx: RouterFixture;

beforeAll(async () => {
  healthy = await startEcho({ BATON_VERSION: "v1" });
  crashing = await crashingInstance();
  fx = await startRouter([
    {
      name: "svc",
      // A high threshold keeps the crashing instance in rotation, so every request can meet it.
      passive: { consecutiveFailures: 1000 },
      tracks: { stable: { version: "v1", weight: 10_000, instances: [crashing.address, healthy.address] } },
    },
  ]);
});
afterEach(() => {
  crashing.received.length = 0;
});
afterAll(async () => {
  await fx?.close();
  await healthy?.stop();
  crashing?.server.close();
});

async function send(method: string, id: string, body?: string) {
  const res = await request(fx.url, { method: method as "GET", headers: { "x-request-id": id }, body });
  await res.body.dump();
  return res.statusCode;
}

describe("retries", () => {
  it("replays an idempotent GET on another instance after a reset before the response", async () => {
    for (let i = 0; i < 40; i++) expect(await send("GET", `g${i}`)).toBe(200);
    // Some of them met the crashing instance first, and each of those met it exactly once.
    expect(crashing.received.length).toBeGreaterThan(0);
    expect(new Set(crashing.received).size).toBe(crashing.received.length);
  });

  it("never sends a POST twice once it may have reached the application", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push(await send("POST", `p${i}`, '{"n":1}'));
    const reached = crashing.received.filter((r) => r.startsWith("POST"));
    expect(reached.length).toBeGreaterThan(0);
    // Every POST that reached the crashing instance was answered 502, not retried elsewhere.
    expect(statuses.filter((s) => s === 502)).toHaveLength(reached.length);
    expect(statuses.filter((s) => s === 200)).toHaveLength(40 - reached.length);
  });

  it("retries any method when the connection could not be made", async () => {
    const dead = await crashingInstance();
    const address = dead.address;
    await new Promise((r) => dead.server.close(r)); // nothing listens there any more
    await fx.admin("PUT", "/v1/services/svc", {
      name: "svc",
      passive: { consecutiveFailures: 1000 },
      tracks: { stable: { version: "v1", weight: 10_000, instances: [address, healthy.address] } },
    });
    for (let i = 0; i < 20; i++) expect(await send("POST", `c${i}`, "{}")).toBe(200);
    const stats = (await fx.admin("GET", "/v1/stats/svc?window=60s")).body;
    expect(stats.tracks[0].connectFailures).toBeGreaterThan(0);
  });
});

describe("idle upstream connections", () => {
  it("closes an idle connection before the instance's own keep-alive timeout, so no request races its close", async () => {
    let closedAfter = -1;
    let answeredAt = 0;
    const early = createHttpServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.end("ok");
        answeredAt = Date.now();
      });
    });
    early.keepAliveTimeout = 2000; // advertises "Keep-Alive: timeout=2", closes idle connections at 2 s
    early.on("connection", (socket) => socket.on("close", () => (closedAfter = Date.now() - answeredAt)));
    await new Promise<void>((r) => early.listen(0, "127.0.0.1", r));
    const address = `127.0.0.1:${(early.address() as AddressInfo).port}`;
    const local = await startRouter([
      { name: "k", tracks: { stable: { version: "v1", weight: 10_000, instances: [address] } } },
    ]);
    try {
      const res = await request(local.url, { method: "POST", body: "{}" });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 2500));
      // The router let go a second ahead of the instance's deadline (checked every 250 ms).
      expect(closedAfter).toBeGreaterThanOrEqual(900);
      expect(closedAfter).toBeLessThan(1600);
    } finally {
      await local.close();
      early.closeAllConnections();
      early.close();
    }
  }, 20_000);
});
