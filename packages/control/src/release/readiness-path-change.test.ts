import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { parseServiceFile, type ServiceFile } from "../service-file.js";
import { type PlaneFixture, planeFixture } from "../test-support/plane-fixture.js";

// A release that changes health.readiness: each version is checked on the path it was released
// with, in the router and in the control plane. v1 serves /readyz only; v2 serves /health/new only.
const SERVICE = fileURLToPath(new URL("../test-support/readiness-path-service.mjs", import.meta.url));
const yaml = (readiness: string) => `
service: ready
listen: 8080
instances: 2
run: ${process.execPath} ${SERVICE}
health: { readiness: ${readiness}, startTimeout: 5s }
keepPreviousFor: 0s
canary:
  steps: [ { weight: 50, pause: 60s }, { weight: 100 } ]
analysis: { minRequests: 1000000 }
drain: { timeout: 1s }
`;
const before = parseServiceFile(yaml("/readyz"));
const edited = parseServiceFile(yaml("/health/new"));

/** baton.yaml as the next deploy reads it. */
let current: ServiceFile = before;
let fx: PlaneFixture;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fx = await planeFixture("readypath", before, async () => current);
  const first = await fx.plane.deploy({
    version: "v1",
    cwd: fx.dir,
    env: { READY_PATH: "/readyz" },
    actor: "t",
  });
  expect((await fx.plane.wait(first.id)).status).toBe("succeeded");
});
afterAll(async () => {
  await fx?.close();
});

const view = () => fx.router.service("ready");
const readyOf = (track: string) => view().tracks.find((t) => t.name === track)?.ready ?? 0;

describe("a release that changes the readiness path", () => {
  it("checks the canary on the new path and stable on its own, and an abort serves v1 on its own path: no request fails", async () => {
    const load = startLoad({ url: fx.url, rate: 200, concurrency: 8 });
    try {
      current = edited;
      const canary = await fx.plane.deploy({
        version: "v2",
        cwd: fx.dir,
        env: { READY_PATH: "/health/new" },
        actor: "t",
      });
      for (let i = 0; i < 100 && (await fx.plane.store.get(canary.id))?.status !== "progressing"; i++)
        await sleep(100);
      // Long enough for the router to take v1 out were it checked on /health/new (500 ms, fall 2).
      await sleep(2000);
      const tracks = view().tracks;
      expect(tracks.map((t) => [t.name, t.version, t.ready])).toEqual([
        ["stable", "v1", 2],
        ["canary", "v2", 2],
      ]);
      expect(view().config.tracks).toMatchObject({
        stable: { health: { path: "/readyz" } },
        canary: { health: { path: "/health/new" } },
      });
      const during = { ...load.result, byVersion: { ...load.result.byVersion } };
      expect(during.byVersion.v1, JSON.stringify(during)).toBeGreaterThan(100);
      expect(during.byVersion.v2, JSON.stringify(during)).toBeGreaterThan(100);
      expect(during.failed, JSON.stringify(during.failures)).toBe(0);

      fx.plane.abort("t");
      const aborted = await fx.plane.wait(canary.id);
      expect(aborted.status, aborted.reason ?? "").toBe("rolled-back");
      const atAbort = load.result.byVersion.v1 ?? 0;
      await sleep(2000);
      expect(readyOf("stable")).toBe(2);
      expect(view().tracks.map((t) => t.version)).toEqual(["v1"]);
      expect((load.result.byVersion.v1 ?? 0) - atAbort).toBeGreaterThan(200);
      const status = await fx.plane.status();
      expect(status.serving?.instances.map((i) => i.state)).toEqual(["ready", "ready"]);
    } finally {
      const result = await load.stop();
      expect(result.failed, JSON.stringify(result.failures)).toBe(0);
    }
  }, 30_000);

  it("a control plane restarted with the edited path keeps serving v1 on the path it was released with", async () => {
    const load = startLoad({ url: fx.url, rate: 200, concurrency: 8 });
    try {
      // `baton up` restarted with baton.yaml's readiness edited, and no deploy.
      const plane = await fx.restart(edited);
      await sleep(2000);
      expect(readyOf("stable")).toBe(2);
      expect(view().config.tracks).toMatchObject({ stable: { version: "v1", health: { path: "/readyz" } } });
      const status = await plane.status();
      expect(status.serving?.version).toBe("v1");
      expect(status.serving?.instances.map((i) => i.state)).toEqual(["ready", "ready"]);
    } finally {
      const result = await load.stop();
      expect(result.byVersion.v1, JSON.stringify(result)).toBeGreaterThan(200);
      expect(result.failed, JSON.stringify(result.failures)).toBe(0);
    }
  }, 30_000);

  it("a rollback to v1 (no longer warm) after v2 succeeded with the new path starts v1 on its own path", async () => {
    current = edited;
    const v2 = await fx.plane.deploy({
      version: "v2",
      cwd: fx.dir,
      env: { READY_PATH: "/health/new" },
      strategy: "immediate",
      actor: "t",
    });
    const done = await fx.plane.wait(v2.id);
    expect(done.status, done.reason ?? "").toBe("succeeded");
    expect(done.settings).toMatchObject({ readiness: "/health/new" });
    // v1 is no longer warm (keepPreviousFor 0s): the rollback starts it again, as a release.
    for (let i = 0; i < 100; i++) {
      if (
        (await fx.plane.status()).warm === null &&
        view().tracks.length === 1 &&
        view().draining.length === 0
      )
        break;
      await sleep(100);
    }
    expect(view().tracks.map((t) => t.version)).toEqual(["v2"]);
    const load = startLoad({ url: fx.url, rate: 200, concurrency: 8 });
    let result: Awaited<ReturnType<typeof load.stop>>;
    try {
      const back = await fx.plane.rollback("t");
      const rolled = await fx.plane.wait(back.id);
      expect(rolled.status, rolled.reason ?? "").toBe("succeeded");
      expect(rolled).toMatchObject({
        version: "v1",
        strategy: "immediate",
        rollbackOf: "v2",
        settings: { readiness: "/readyz" },
      });
      await sleep(1500);
      expect(view().config.tracks).toMatchObject({ stable: { version: "v1", health: { path: "/readyz" } } });
      expect(readyOf("stable")).toBe(2);
    } finally {
      result = await load.stop();
    }
    expect(result.byVersion.v1, JSON.stringify(result)).toBeGreaterThan(100);
    expect(result.failed, JSON.stringify(result.failures)).toBe(0);
  }, 30_000);
});
