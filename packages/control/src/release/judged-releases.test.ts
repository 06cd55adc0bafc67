import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import type { ControlPlane } from "../control-plane.js";
import { parseServiceFile } from "../service-file.js";
import { type PlaneFixture, planeFixture } from "../test-support/plane-fixture.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";

/** baton.yaml as the test changes it between deploys (the control plane reads it at each one). */
let blueGreenYaml = "blueGreen: { postSwitchAnalysis: 4s }";
let analysisYaml = "analysis: { minRequests: 150, maxInconclusive: 20s }";
const yaml = (extra = "") => `
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
health: { startTimeout: 5s }
rolling: { maxSurge: 1, minReady: 300ms, judgeFor: 20s }
${blueGreenYaml}
canary:
  steps: [ { weight: 20, pause: 1s }, { weight: 100 } ]
${analysisYaml}
stickiness: { header: x-user-id }
drain: { timeout: 2s }
${extra}`;
let extraYaml = "";

let fx: PlaneFixture;
let plane: ControlPlane;
let url: string;
let dir: string;

beforeAll(async () => {
  fx = await planeFixture("judged", parseServiceFile(yaml()), async () => parseServiceFile(yaml(extraYaml)));
  ({ plane, url, dir } = fx);
});
afterAll(async () => {
  await fx?.close();
});

const load = () =>
  startLoad({ url, rate: 400, concurrency: 16, headers: (n) => ({ "x-user-id": `u${n % 3000}` }) });

describe("every strategy is judged, every rollback is instant", () => {
  it("rolls back rolling and blue-green releases of a version failing 15% of requests, with the numbers; rollbacks in the warm window take one switch", async () => {
    const first = await plane.deploy({ version: "v1", cwd: dir, actor: "t" });
    expect((await plane.wait(first.id)).status).toBe("succeeded");
    const traffic = load();
    try {
      const deploy = async (version: string, strategy: "rolling" | "blue-green" | "canary", failRate = 0) => {
        const before = traffic.result.failed;
        const r = await plane.deploy({
          version,
          cwd: dir,
          actor: "t",
          strategy,
          env: { FAIL_RATE: String(failRate) },
        });
        const done = await plane.wait(r.id);
        return { done, failed: traffic.result.failed - before };
      };
      const rollback = async (from: string, to: string) => {
        const before = traffic.result.failed;
        const started = Date.now();
        const r = await plane.rollback("t");
        const done = await plane.wait(r.id);
        const took = Date.now() - started;
        expect(done.status, done.reason ?? "").toBe("succeeded");
        expect(done.strategy).toBe("rollback");
        expect(done.rollbackOf).toBe(from);
        expect(done.version).toBe(to);
        expect(took, `rollback from ${from} took ${took}ms`).toBeLessThan(3000);
        expect(traffic.result.failed - before, JSON.stringify(traffic.result.failures)).toBe(0);
        expect((await plane.status()).serving?.version).toBe(to);
      };

      for (const strategy of ["rolling", "blue-green", "canary"] as const) {
        const good = await deploy(`${strategy}-good`, strategy);
        expect(good.done.status, `${strategy}: ${good.done.reason}`).toBe("succeeded");
        expect(good.failed, `${strategy} healthy`).toBe(0);
        expect(good.done.settings).toMatchObject({ strategy, instances: 2 });
        const status = await plane.status();
        expect(status.warm?.version).toBe("v1");
        await rollback(`${strategy}-good`, "v1");
      }

      for (const strategy of ["rolling", "blue-green"] as const) {
        const bad = await deploy(`${strategy}-bad`, strategy, 0.15);
        expect(bad.done.status, `${strategy}: ${bad.done.reason}`).toBe("rolled-back");
        expect(bad.done.reason).toMatch(/error rate [\d.]+ > [\d.]+ \+ 0\.02.*n=\d+/);
        expect((await plane.status()).serving?.version).toBe("v1");
        const decisions = await plane.store.decisions(bad.done.id);
        expect(decisions.find((d) => d.decision === "fail")?.numbers).toHaveProperty("errorRate");
        // The audit log says who rolled it back: the analysis, not whoever deployed.
        const rolledBack = (await plane.audit.list(500)).find(
          (e) => e.action === "release.rolling-back" && e.details?.releaseId === bad.done.id,
        );
        expect(rolledBack?.actor).toBe("analysis");
      }
    } finally {
      await traffic.stop();
    }
  }, 240_000);

  it("outside the warm window, a rollback restarts the previous version all at once; the history says what it rolled back from", async () => {
    extraYaml = "keepPreviousFor: 0s";
    const traffic = load();
    try {
      const r = await plane.deploy({ version: "v7", cwd: dir, actor: "t", strategy: "canary" });
      expect((await plane.wait(r.id)).status).toBe("succeeded");
      expect((await plane.status()).warm).toBeNull();
      const before = traffic.result.failed;
      const back = await plane.rollback("t");
      const done = await plane.wait(back.id);
      expect(done.status, done.reason ?? "").toBe("succeeded");
      expect(done.strategy).toBe("immediate");
      expect(done.rollbackOf).toBe("v7");
      expect(done.version).toBe("v1");
      expect(traffic.result.failed - before).toBe(0);
    } finally {
      await traffic.stop();
      extraYaml = "";
    }
  }, 60_000);

  it("a canary with almost no traffic pauses after maxInconclusive, says so, and baton promote finishes it", async () => {
    extraYaml = "keepPreviousFor: 0s";
    analysisYaml = "analysis: { minRequests: 150, maxInconclusive: 2s }";
    try {
      const r = await plane.deploy({ version: "v8", cwd: dir, actor: "t", strategy: "canary" });
      let status = await plane.status();
      for (let i = 0; i < 100 && status.waiting?.kind !== "paused"; i++) {
        await new Promise((res) => setTimeout(res, 100));
        status = await plane.status();
      }
      expect(status.waiting?.kind).toBe("paused");
      expect(status.waiting?.message).toMatch(/inconclusive.*baton promote/);
      expect(status.decisions.some((d) => d.decision === "paused")).toBe(true);
      const events = await plane.audit.list(500);
      expect(events.some((e) => e.action === "release.paused")).toBe(true);
      // Paused means paused: nothing moves on its own.
      await new Promise((res) => setTimeout(res, 1500));
      expect((await plane.store.get(r.id))?.step).toBe(0);
      plane.promote();
      expect((await plane.wait(r.id)).status).toBe("succeeded");
    } finally {
      extraYaml = "";
    }
  }, 60_000);

  it("refuses a baton.yaml that no longer parses or changes what the running router was started with, and stays free for the next deploy", async () => {
    analysisYaml = "analysis: { minRequests: 150 }";
    const refused = async () =>
      (await plane.deploy({ version: "v9", cwd: dir, actor: "t" }).catch((e: unknown) => e)) as {
        code: string;
        message: string;
      };
    extraYaml = "keepPreviousFor: 0s\nstrategy: sideways";
    const bad = await refused();
    expect(bad.code).toBe("BATON_BAD_SERVICE_FILE");
    expect(bad.message).toMatch(/baton\.yaml:\d+:\d+: strategy: Invalid option/);
    extraYaml = 'keepPreviousFor: 0s\ntrustedProxies: ["10.0.0.0/8"]';
    const changed = await refused();
    expect(changed.code).toBe("BATON_SERVICE_FILE_CHANGED");
    expect(changed.message).toMatch(/trustedProxies .*restart baton up/);
    extraYaml = "keepPreviousFor: 0s";
    const r = await plane.deploy({ version: "v9", cwd: dir, actor: "t", strategy: "blue-green" });
    expect((await plane.wait(r.id)).status).toBe("succeeded");
  }, 60_000);

  it("judges blue-green's preview users before the switch: a bad version never reaches anyone else", async () => {
    analysisYaml = "analysis: { minRequests: 150 }";
    const previewUsers = JSON.stringify(Array.from({ length: 300 }, (_, i) => `u${i}`));
    extraYaml = "keepPreviousFor: 0s";
    blueGreenYaml = `blueGreen: { previewUsers: ${previewUsers}, previewFor: 20s, postSwitchAnalysis: 2s }`;
    if (!(await plane.status()).serving)
      await plane.wait((await plane.deploy({ version: "v1", cwd: dir, actor: "t" })).id);
    const traffic = load();
    try {
      const r = await plane.deploy({
        version: "v10",
        cwd: dir,
        actor: "t",
        strategy: "blue-green",
        env: { FAIL_RATE: "0.15" },
      });
      const done = await plane.wait(r.id);
      expect(done.status, done.reason ?? "").toBe("rolled-back");
      expect(done.step).toBe(0); // never switched
      expect(done.reason).toMatch(/error rate [\d.]+ > [\d.]+ \+ 0\.02.*n=\d+/);
      const fail = (await plane.store.decisions(done.id)).find((d) => d.decision === "fail");
      expect(fail?.step).toBe(0);
      expect(traffic.result.byVersion.v10 ?? 0).toBeGreaterThan(0); // the preview users saw it
      expect((await plane.status()).serving?.version).not.toBe("v10");
    } finally {
      await traffic.stop();
      extraYaml = "";
    }
  }, 60_000);
});
