import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { type RouterFixture, startRouter, waitFor } from "./test-support/router-fixture.js";

let a: EchoInstance;
let b: EchoInstance;
let fx: RouterFixture;
const TOKEN = "websocket-test-track-token";

const svc = (stable: string[], canaryWeight: number) => ({
  name: "chat",
  stickiness: { header: "x-user-id" },
  drain: { timeout: "2s", websocketCloseBatch: 2, websocketCloseInterval: "300ms" },
  trackOverride: { token: TOKEN },
  tracks: {
    stable: { version: "v1", weight: 10_000 - canaryWeight, instances: stable },
    canary: { version: "v2", weight: canaryWeight, instances: [b.address] },
  },
});

interface Session {
  ws: WebSocket;
  hello: { hello: string };
  closed?: { code: number; at: number };
}

async function open(track: string): Promise<Session> {
  const ws = new WebSocket(`${fx.url.replace("http", "ws")}/ws`, {
    headers: { "x-baton-track": track, "x-baton-track-token": TOKEN },
  });
  const session = {} as Session;
  session.ws = ws;
  ws.on("close", (code) => (session.closed = { code, at: Date.now() }));
  session.hello = await new Promise((resolve, reject) => {
    ws.once("message", (d) => resolve(JSON.parse(String(d))));
    ws.once("error", reject);
  });
  return session;
}

async function echo(s: Session, text: string): Promise<string> {
  return new Promise((resolve) => {
    s.ws.once("message", (d) => resolve(String(d)));
    s.ws.send(text);
  });
}

beforeAll(async () => {
  [a, b] = await Promise.all([startEcho({ BATON_VERSION: "v1" }), startEcho({ BATON_VERSION: "v2" })]);
  fx = await startRouter([svc([a.address], 0)]);
});
afterAll(async () => {
  await fx?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

describe("WebSocket proxying", () => {
  it("keeps sessions through weight moves and removal, then closes them with 1001 in staggered batches", async () => {
    const onA = await Promise.all(Array.from({ length: 6 }, () => open("stable")));
    const onB = await Promise.all(Array.from({ length: 2 }, () => open("canary")));
    expect(onA.every((s) => s.hello.hello === "v1")).toBe(true);
    expect(onB.every((s) => s.hello.hello === "v2")).toBe(true);
    let stats = (await fx.admin("GET", "/v1/stats/chat?window=10s")).body;
    expect(stats.tracks.find((t: { track: string }) => t.track === "stable").websocketsOpen).toBe(6);

    // Weights move all the way: open sessions are pinned to their instance and carry on.
    for (const w of [2500, 5000, 10_000]) await fx.admin("PUT", "/v1/services/chat", svc([a.address], w));
    expect(await echo(onA[0]!, "after weights")).toBe("after weights");

    // The instance leaves the config: it drains, its sessions still work until the deadline.
    const removedAt = Date.now();
    await fx.admin("PUT", "/v1/services/chat", svc([], 10_000));
    const view = (await fx.admin("GET", "/v1/services/chat")).body;
    expect(view.draining).toEqual([
      expect.objectContaining({ address: a.address, state: "draining", websockets: 6 }),
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await echo(onA[1]!, "while draining")).toBe("while draining");
    expect(onA.every((s) => s.closed === undefined)).toBe(true);

    await waitFor(() => onA.every((s) => s.closed !== undefined), 6000, "drained sessions to close");
    const closes = onA.map((s) => s.closed!);
    expect(closes.every((c) => c.code === 1001)).toBe(true);
    const first = Math.min(...closes.map((c) => c.at));
    const last = Math.max(...closes.map((c) => c.at));
    expect(first - removedAt).toBeGreaterThanOrEqual(1900); // not before the drain timeout
    expect(last - first).toBeGreaterThanOrEqual(500); // 6 sessions in batches of 2, 300 ms apart
    // Sessions on other instances never noticed.
    expect(onB.every((s) => s.closed === undefined)).toBe(true);
    expect(await echo(onB[0]!, "still here")).toBe("still here");
    stats = (await fx.admin("GET", "/v1/stats/chat?window=10s")).body;
    expect(stats.tracks.find((t: { track: string }) => t.track === "canary").websocketsOpen).toBe(2);
    for (const s of onB) s.ws.close();
  }, 30_000);

  it("says in the 101 which version answered, like every response", async () => {
    const ws = new WebSocket(`${fx.url.replace("http", "ws")}/ws`, {
      headers: { "x-baton-track": "canary", "x-baton-track-token": TOKEN },
    });
    const version = await new Promise<string | undefined>((resolve, reject) => {
      ws.once("upgrade", (res) => resolve(res.headers["x-baton-version"] as string | undefined));
      ws.once("error", reject);
    });
    ws.close();
    expect(version).toBe("v2");
  });

  it("relays the upstream's refusal of an upgrade", async () => {
    const ws = new WebSocket(`${fx.url.replace("http", "ws")}/not-ws`);
    const status = await new Promise<number>((resolve) =>
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode!)),
    );
    expect(status).toBe(400);
  });

  it("accepts the client with the sub-protocol the instance chose", async () => {
    const ws = new WebSocket(`${fx.url.replace("http", "ws")}/ws`, ["chat.v2", "chat.v1"]);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    expect(ws.protocol).toBe("chat.v2"); // ws servers pick the first offered protocol by default
    ws.close();
  });
});
