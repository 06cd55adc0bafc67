import type { Router } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { processEnv } from "../providers/process-alive.js";
import type { Instance } from "../providers/provider.js";
import { parseServiceFile } from "../service-file.js";
import {
  ECHO_SERVER,
  type ReleaseFixture,
  releaseFixture,
  runRelease,
} from "../test-support/release-fixture.js";
import { runCanaryRelease } from "./canary-release.js";
import type { ReleaseContext } from "./release-steps.js";
import { retirePrevious } from "./retire-previous.js";

const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
canary:
  steps: [ { weight: 10, pause: 2s }, { weight: 50, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 100 }
stickiness: { header: x-user-id }
drain: { timeout: 3s }
`);

let fx: ReleaseFixture;
let ctx: ReleaseContext;
let router: Router;
let dir: string;
const everything: Instance[] = [];

beforeAll(async () => {
  fx = await releaseFixture("release", file, 2);
  ({ router, dir } = fx);
  ctx = fx.context();
});
afterAll(async () => {
  fx.everything.push(...everything);
  await fx?.close();
});

describe("canary release", () => {
  it("promotes a healthy version step by step with no failed request, then rolls back a bad one by itself", async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 500,
      concurrency: 16,
      headers: (n) => ({ "x-user-id": `u${n % 3000}` }),
    });

    const good = await runRelease(ctx, runCanaryRelease, { version: "v2", cwd: dir });
    everything.push(...good.serving.instances);
    expect(good.release.status).toBe("succeeded");
    const afterGood = { ...load.result, byVersion: { ...load.result.byVersion } };
    expect(afterGood.failed).toBe(0);
    expect(afterGood.byVersion.v2).toBeGreaterThan(0);
    // The old version stays warm (weight 0, running) for keepPreviousFor; retiring it stops it.
    expect(good.previous?.version).toBe("v1");
    expect(good.previous?.instances.every((i) => i.state === "ready")).toBe(true);
    // The new instances know the version they replace (the versioned cache upgrades from it).
    for (const i of good.serving.instances)
      expect(processEnv(i.record.pid, "BATON_PREVIOUS_VERSION")).toBe("v1");
    await (await retirePrevious(ctx, good.serving, good.previous!)).stopped;
    expect(ctx.stable.instances.every((i) => i.state === "stopped")).toBe(true);
    const passes = await ctx.store.decisions(good.release.id);
    expect(passes.some((d) => d.decision === "pass")).toBe(true);
    // The comparison over time: each judged step ends on a look whose band is below the tolerance.
    const goodLooks = await ctx.store.looks(good.release.id);
    for (const step of [0, 1]) {
      const ofStep = goodLooks.filter((l) => l.step === step);
      expect(ofStep.length).toBeGreaterThan(1);
      expect(ofStep.at(-1)).toMatchObject({ decision: "pass" });
      expect(ofStep.at(-1)!.errorRate.upper).toBeLessThan(0.02);
      expect(ofStep.at(-1)!.requests.treatment).toBeGreaterThanOrEqual(100);
    }

    // v3 fails 10% of its requests (+10 points over v2's 0%): the analysis stops it on its own.
    ctx = { ...ctx, stable: good.serving };
    const started = Date.now();
    const bad = await runRelease(ctx, runCanaryRelease, {
      version: "v3",
      cwd: dir,
      env: { FAIL_RATE: "0.1" },
    });
    everything.push(...bad.serving.instances);
    const r = await load.stop();
    expect(bad.release.status).toBe("rolled-back");
    expect(bad.release.reason).toMatch(/^error rate 0\.\d+ > 0(\.\d+)? \+ 0\.02/);
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(bad.serving.version).toBe("v2");
    expect(r.failed).toBeGreaterThan(0);
    expect(r.failed / r.sent).toBeLessThan(0.01);
    const decisions = await ctx.store.decisions(bad.release.id);
    expect(decisions.at(-1)).toMatchObject({ decision: "fail" });
    // The failing look is the last one kept, with the bound that crossed the tolerance.
    const badLook = (await ctx.store.looks(bad.release.id)).at(-1)!;
    expect(badLook.decision).toBe("fail");
    expect(badLook.errorRate.lower).toBeGreaterThan(0.02);
    expect(badLook.errorRate.increase).toBeCloseTo(
      (decisions.at(-1)!.numbers.errorRate as { increase: number }).increase,
      5,
    );
    expect((await ctx.audit.verify()).problems).toEqual([]);
    const startEvent = (await ctx.audit.list()).find((e) => e.action === "release.started")!;
    expect(Object.keys(startEvent.details!.files as object).length).toBeGreaterThan(0);
    // Every change of each release, in order, each written with the change itself.
    const actions = (await ctx.audit.list()).map((e) => e.action);
    expect(actions.slice(0, 5)).toEqual([
      "release.started",
      "release.progressing",
      "release.step",
      "release.step",
      "release.succeeded",
    ]);
    expect(actions.slice(5).filter((a) => a !== "release.step")).toEqual([
      "release.started",
      "release.progressing",
      "release.rolling-back",
      "release.rolled-back",
    ]);
  }, 60_000);

  it("rolls back at once when the release is aborted, whatever the analysis says", async () => {
    const load = startLoad({ url: `http://127.0.0.1:${router.address.port}/`, rate: 200, concurrency: 8 });
    const askedAt = Date.now() + 1500;
    const out = await runRelease(
      { ...ctx, aborted: () => (Date.now() >= askedAt ? "aborted by test (baton abort)" : undefined) },
      runCanaryRelease,
      { version: "v4", cwd: dir },
    );
    everything.push(...out.serving.instances);
    const r = await load.stop();
    expect(out.release).toMatchObject({ status: "rolled-back", reason: "aborted by test (baton abort)" });
    expect(out.serving.version).toBe(ctx.stable.version);
    expect(r.failed).toBe(0);
  }, 30_000);

  it("moves one step on for each baton promote, even while the analysis has too little traffic to judge", async () => {
    const from = Date.now() + 1000;
    const out = await runRelease({ ...ctx, promoted: () => Date.now() >= from }, runCanaryRelease, {
      version: "v5",
      cwd: dir,
    });
    everything.push(...out.serving.instances);
    expect(out.release.status).toBe("succeeded");
    const decisions = await ctx.store.decisions(out.release.id);
    expect(decisions.filter((d) => d.decision === "promoted").map((d) => d.step)).toEqual([0, 1]);
    expect(decisions.find((d) => d.decision === "promoted")?.reason).toMatch(/analysis said inconclusive/);
    ctx = { ...ctx, stable: out.serving };
  }, 30_000);
});
