import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLoad } from "../../../router/src/test-support/load.js";
import type { Instance } from "../providers/provider.js";
import { parseServiceFile } from "../service-file.js";
import {
  ECHO_SERVER,
  type ReleaseFixture,
  releaseFixture,
  runRelease,
} from "../test-support/release-fixture.js";
import { runBlueGreenRelease } from "./blue-green-release.js";
import { runCanaryRelease } from "./canary-release.js";
import type { ReleaseContext, ReleaseOutcome } from "./release-steps.js";
import { retirePrevious } from "./retire-previous.js";
import { runRollingRelease } from "./rolling-release.js";

const file = parseServiceFile(`
service: echo
listen: 8080
instances: 3
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 2s }
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: 500ms }
blueGreen: { previewChecks: [/health/ready, /], keepOldFor: 1s, postSwitchAnalysis: 2s }
canary:
  steps: [ { weight: 20, pause: 1s }, { weight: 100 } ]
analysis: { minRequests: 100 }
stickiness: { header: x-user-id }
drain: { timeout: 2s }
`);

let fx: ReleaseFixture;
let ctx: ReleaseContext;
const everything: Instance[] = [];

beforeAll(async () => {
  fx = await releaseFixture("strategies", file, 3);
  ctx = fx.context();
});
afterAll(async () => {
  fx.everything.push(...everything);
  await fx?.close();
});

/** WebSocket users: each records how its session ended and when. */
function openSockets(n: number): { closes: { code: number; at: number }[]; sockets: WebSocket[] } {
  const closes: { code: number; at: number }[] = [];
  const sockets = Array.from({ length: n }, (_, i) => {
    const ws = new WebSocket(`${ctx.routerUrl!.replace("http", "ws")}/ws`, {
      headers: { "x-user-id": `ws${i}` },
    });
    ws.on("close", (code) => closes.push({ code, at: Date.now() }));
    ws.on("error", () => {});
    return ws;
  });
  return { closes, sockets };
}

describe("rolling, blue-green and canary under load", () => {
  it("each finish with 0 failed requests, and WebSockets end only with 1001 after the drain timeout", async () => {
    const load = startLoad({
      url: `${ctx.routerUrl}/`,
      rate: 500,
      concurrency: 24,
      headers: (n) => ({ "x-user-id": `u${n % 4000}` }),
    });
    const ws = openSockets(6);
    const run = async (
      label: string,
      fn: typeof runRollingRelease,
      version: string,
    ): Promise<ReleaseOutcome> => {
      const before = load.result.failed;
      const started = Date.now();
      const out = await runRelease(ctx, fn, { version, cwd: fx.dir });
      everything.push(...out.serving.instances);
      if (out.previous) await (await retirePrevious(ctx, out.serving, out.previous)).stopped;
      expect(out.release.status, `${label}: ${out.release.reason}`).toBe("succeeded");
      expect(load.result.failed - before, `${label} failures ${JSON.stringify(load.result.failures)}`).toBe(
        0,
      );
      // Sessions on the old version were closed by its drain, never before the drain timeout.
      for (const c of ws.closes.filter((x) => x.at >= started)) {
        expect(c.code).toBe(1001);
        expect(c.at - started).toBeGreaterThanOrEqual(file.drain.timeout - 100);
      }
      ctx = { ...ctx, stable: out.serving };
      return out;
    };
    await run("rolling", runRollingRelease, "v2");
    await run("blue-green", runBlueGreenRelease, "v3");
    await run("canary", runCanaryRelease, "v4");
    const r = await load.stop();
    for (const s of ws.sockets) s.close();
    expect(r.sent / r.seconds).toBeGreaterThanOrEqual(450);
    expect(r.failed).toBe(0);
    expect(Object.keys(r.byVersion).sort()).toEqual(["v1", "v2", "v3", "v4"]);
    expect(ws.closes.every((c) => c.code === 1001 || c.code === 1005)).toBe(true);
  }, 120_000);

  it("gives a version that never becomes ready no traffic, and leaves the old one as it was", async () => {
    const load = startLoad({ url: `${ctx.routerUrl}/`, rate: 200, concurrency: 8 });
    const table = async () =>
      (await ctx.router.service("echo")).tracks.map((t) => ({
        ...t,
        instances: t.instances.map((i) => [i.address, i.version, i.state]),
      }));
    const before = await table();
    const out = await runRelease(ctx, runRollingRelease, {
      version: "v-never",
      cwd: fx.dir,
      env: { NEVER_READY: "1" },
    });
    const r = await load.stop();
    expect(out.release.status).toBe("failed");
    expect(out.release.reason).toMatch(/v-never did not become ready/);
    expect(r.byVersion["v-never"]).toBeUndefined();
    expect(r.failed).toBe(0);
    expect(await table()).toEqual(before);
  }, 60_000);
});
