import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import type { ControlPlane } from "../control-plane.js";
import { parseServiceFile } from "../service-file.js";
import { type PlaneFixture, planeFixture } from "../test-support/plane-fixture.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";

// No sticky header: every request comes from one address, as behind an ingress or a load
// balancer, and the client keeps no cookies (a load generator, a server-side caller).
const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 5s }
keepPreviousFor: 0s
canary:
  steps: [ { weight: 10, pause: 8s }, { weight: 100 } ]
analysis: { minRequests: 100 }
drain: { timeout: 1s }
`);

let fx: PlaneFixture;
let plane: ControlPlane;
let url: string;
let dir: string;

beforeAll(async () => {
  fx = await planeFixture("lbcanary", file);
  ({ plane, url, dir } = fx);
});
afterAll(async () => {
  await fx?.close();
});

describe("a canary behind a load balancer (one client address, no sticky header)", () => {
  it("gets its weight within ±2 points and completes; a browser-like client stays on one version", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const load = startLoad({ url, rate: 500, concurrency: 16 });
    try {
      const canary = await plane.deploy({ version: "v2", cwd: dir, actor: "t" });
      for (let i = 0; i < 100 && (await plane.store.get(canary.id))?.status !== "progressing"; i++)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // the step's table is in the router
      const before = { ...load.result.byVersion };

      // A browser: keeps the cookie the router assigns and sends it back.
      let cookie: string | undefined;
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const res = await request(url, { headers: cookie ? { cookie } : {} });
        await res.body.dump();
        seen.add(String(res.headers["x-baton-version"]));
        const set = res.headers["set-cookie"];
        const sticky = (Array.isArray(set) ? set : set ? [set] : []).find((c) =>
          c.startsWith("baton_sticky="),
        );
        if (!cookie) {
          expect(sticky, "the router assigns a sticky cookie").toBeDefined();
          cookie = sticky!.split(";")[0];
        }
      }
      expect([...seen]).toHaveLength(1);

      await new Promise((r) => setTimeout(r, 5000));
      const v1 = (load.result.byVersion.v1 ?? 0) - (before.v1 ?? 0);
      const v2 = (load.result.byVersion.v2 ?? 0) - (before.v2 ?? 0);
      expect(v1 + v2).toBeGreaterThan(1500);
      const share = (100 * v2) / (v1 + v2);
      expect(share, `canary share ${share.toFixed(2)}% of ${v1 + v2}`).toBeGreaterThan(8);
      expect(share).toBeLessThan(12);

      const done = await plane.wait(canary.id);
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect(load.result.failed).toBe(0);
    } finally {
      await load.stop();
    }
  }, 60_000);
});
