import { request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { type RouterFixture, startRouter, waitFor } from "./test-support/router-fixture.js";

const instances: EchoInstance[] = [];
let fx: RouterFixture | undefined;
const echo = async (env: Record<string, string> = {}) => {
  const i = await startEcho(env);
  instances.push(i);
  return i;
};
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
});

async function hit(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; pid?: number; ms: number }> {
  const t = Date.now();
  const res = await request(url, { headers });
  const text = await res.body.text();
  let pid: number | undefined;
  try {
    pid = JSON.parse(text).pid;
  } catch {
    /* router error page */
  }
  return { status: res.statusCode, pid, ms: Date.now() - t };
}

const health = { path: "/health/ready", interval: "100ms", timeout: "300ms", rise: 2, fall: 2 };
const track = (addresses: string[], extra: Record<string, unknown> = {}) => ({
  stable: { version: "v1", weight: 10_000, instances: addresses, ...extra },
});

describe("health and availability", () => {
  it("sends a new instance traffic only after its readiness checks pass `rise` times", async () => {
    const a = await echo();
    fx = await startRouter([{ name: "s", health, tracks: track([a.address]) }]);
    await waitFor(async () => (await hit(fx!.url)).status === 200, 5000, "first instance");
    const slow = await echo({ READY_DELAY_MS: "1500" });
    const addedAt = Date.now();
    await fx.admin("PUT", "/v1/services/s", { name: "s", health, tracks: track([a.address, slow.address]) });
    const early: (number | undefined)[] = [];
    while (Date.now() - addedAt < 1300) early.push((await hit(fx.url)).pid);
    expect(early.includes(slow.process.pid)).toBe(false);
    await waitFor(
      async () => (await hit(fx!.url)).pid === slow.process.pid,
      5000,
      "slow instance to take traffic",
    );
  });

  it("never sends traffic to an instance that never becomes ready", async () => {
    const a = await echo();
    const never = await echo({ NEVER_READY: "1" });
    fx = await startRouter([{ name: "s", health, tracks: track([a.address, never.address]) }]);
    await waitFor(async () => (await hit(fx!.url)).status === 200, 5000, "ready instance");
    const pids = new Set<number | undefined>();
    for (let i = 0; i < 200; i++) pids.add((await hit(fx.url)).pid);
    expect(pids.has(never.process.pid)).toBe(false);
    const view = (await fx.admin("GET", "/v1/services/s")).body;
    expect(view.tracks[0].instances.find((i: { address: string }) => i.address === never.address).state).toBe(
      "pending",
    );
  });

  it("ejects an instance after consecutive 5xx, and lets it back after the back-off", async () => {
    const good = await echo();
    const bad = await echo({ FAIL_RATE: "1" });
    fx = await startRouter([
      {
        name: "s",
        passive: { consecutiveFailures: 3, baseEjection: "1s" },
        tracks: track([good.address, bad.address]),
      },
    ]);
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await hit(fx.url)).status);
    // At most `consecutiveFailures` errors reached a client before the instance was taken out.
    expect(statuses.filter((s) => s === 500).length).toBe(3);
    expect(statuses.slice(-40).every((s) => s === 200)).toBe(true);
    const state = async () =>
      (await fx!.admin("GET", "/v1/services/s")).body.tracks[0].instances.find(
        (i: { address: string }) => i.address === bad.address,
      ).state;
    expect(await state()).toBe("ejected");
    await waitFor(async () => (await state()) === "healthy", 3000, "ejection to end");
  });

  it("holds requests while a track has no healthy instance, and serves them when one appears", async () => {
    const down = "127.0.0.1:1"; // nothing listens there: never healthy
    fx = await startRouter([{ name: "s", health, pause: { timeout: "3s" }, tracks: track([down]) }]);
    const waiting = hit(fx.url);
    await new Promise((r) => setTimeout(r, 500));
    const views = (await fx.admin("GET", "/v1/services/s")).body;
    expect(views.pausedRequests).toBe(1);
    const up = await echo();
    await fx.admin("PUT", "/v1/services/s", {
      name: "s",
      health,
      pause: { timeout: "3s" },
      tracks: track([up.address]),
    });
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.pid).toBe(up.process.pid);
    expect(res.ms).toBeGreaterThanOrEqual(500);
  });

  it("gives up with 503 after the pause timeout, and at once when the queue is full", async () => {
    fx = await startRouter([
      { name: "s", health, pause: { timeout: "800ms", maxWaiting: 1 }, tracks: track(["127.0.0.1:1"]) },
    ]);
    const [first, second] = await Promise.all([
      hit(fx.url),
      new Promise((r) => setTimeout(r, 100)).then(() => hit(fx!.url)),
    ]);
    expect(first.status).toBe(503);
    expect(first.ms).toBeGreaterThanOrEqual(750);
    expect(second.status).toBe(503);
    expect(second.ms).toBeLessThan(300);
  });
});
