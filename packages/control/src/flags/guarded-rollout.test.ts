import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Flag } from "@baton/flags";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFlagApi } from "../test-support/flag-fixture.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { GuardedRollouts } from "./guarded-rollouts.js";

/**
 * Guarded rollouts end to end: a real control plane, two real echo-service processes that read
 * the flags with @baton/flags and report request outcomes, and real traffic from many users.
 */
let fx: Awaited<ReturnType<typeof startFlagApi>>;
const apps: ChildProcess[] = [];
const ports: number[] = [];
let token: string;
let load: { stop(): Promise<{ sent: number; failed: number }> };

const flag = (name: string, percent: number): Flag => ({
  name,
  enabled: true,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(percent), stickiness: "userId", groupId: name },
    },
  ],
});

async function startApp(url: string, token: string): Promise<void> {
  const child = spawn(process.execPath, [ECHO_SERVER], {
    env: {
      ...process.env,
      PORT: "0",
      BATON_VERSION: "v1",
      BATON_FLAGS_URL: `${url}/api`,
      BATON_FLAGS_TOKEN: token,
      FLAG_FAILS: "risky:0.05,harmless:0",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  apps.push(child);
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    const event = JSON.parse(line) as { event: string; port: number };
    if (event.event === "listening") {
      ports.push(event.port);
      return;
    }
  }
  throw new Error("the echo service exited before listening");
}

/** Many users, each sending x-user-id, spread over both apps, until stopped (bounded: 3 minutes). */
function startLoad(): typeof load {
  const agent = new Agent({ connections: 16 });
  let running = true;
  let sent = 0;
  let failed = 0;
  const deadline = Date.now() + 180_000;
  const worker = async (w: number) => {
    for (let n = 0; running && Date.now() < deadline; n++) {
      const user = `user-${w}-${Math.floor(Math.random() * 5_000)}`;
      const port = ports[n % ports.length]!;
      const res = await request(`http://127.0.0.1:${port}/checkout`, {
        dispatcher: agent,
        headers: { "x-user-id": user },
      }).catch(() => undefined);
      sent++;
      if (!res || res.statusCode >= 500) failed++;
      await res?.body.dump();
    }
  };
  const workers = Array.from({ length: 12 }, (_, w) => worker(w));
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      await agent.close();
      return { sent, failed };
    },
  };
}

async function waitForEnd(name: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const list = (await fx.call("GET", `/v1/flags/${name}/guarded-rollout`)).body;
    if (!["running", "paused"].includes(list[0].state)) return list[0];
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the guarded rollout of ${name} did not end within ${timeoutMs} ms`);
}

const percentOf = async (name: string) =>
  Number((await fx.call("GET", `/v1/flags/${name}`)).body.flag.strategies[0].parameters.rollout);

beforeAll(async () => {
  fx = await startFlagApi("guarded", undefined, { rollouts: { lookMs: 250 } });
  token = (await fx.call("POST", "/v1/flags/tokens", { name: "echo" })).body.token;
  for (const f of [flag("risky", 0), flag("harmless", 0), flag("quiet", 0)])
    expect((await fx.call("PUT", `/v1/flags/${f.name}`, f)).status).toBe(200);
  await Promise.all([startApp(fx.api.url, token), startApp(fx.api.url, token)]);
  load = startLoad();
}, 30_000);

afterAll(async () => {
  await load?.stop();
  for (const app of apps) {
    app.kill("SIGTERM");
    if (app.exitCode === null) await once(app, "exit");
  }
  await fx?.close();
});

describe("a guarded rollout", () => {
  it("stops a flag that makes 5% more requests fail, and turns it back at once, with its numbers", async () => {
    const started = await fx.call("POST", "/v1/flags/risky/guarded-rollout", {
      steps: [20, 50, 100],
      pause: "1s",
      minRequests: 200,
      actor: "alice",
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ state: "running", step: 0, percent: 20, lastGood: 0 });
    expect(await percentOf("risky")).toBe(20);

    const end = await waitForEnd("risky", 60_000);
    expect(end.state).toBe("rolled-back");
    expect(end.reason).toMatch(
      /with the flag on: error rate [\d.]+ > [\d.]+ \+ 0\.02 allowed .*n=\d+\/\d+; back to 0%/,
    );
    expect(end.verdict.requests.on).toBeGreaterThan(0);
    // The rollout's row is written first, then the flag (a crash between is repaired from the row):
    // the flag follows within a moment.
    for (let i = 0; i < 50 && (await percentOf("risky")) !== 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await percentOf("risky")).toBe(0);

    // The flag's own history says who turned it back and why; the audit chain has the numbers.
    const history = (await fx.call("GET", "/v1/flags/risky/history")).body;
    expect(history[0]).toMatchObject({ actor: "guarded-rollout" });
    expect(history[0].reason).toMatch(/guarded rollout #\d+: .*error rate/);
    const audit = await fx.plane.audit.list(200);
    const rolledBack = audit.find((e) => e.action === "flag.rollout.rolled-back");
    expect(rolledBack?.details).toMatchObject({ flag: "risky", numbers: { decision: "fail" } });
    expect(audit.some((e) => e.action === "flag.rollout.started" && e.actor === "alice")).toBe(true);
    expect((await fx.plane.audit.verify()).problems).toEqual([]);
  }, 90_000);

  it("takes a harmless flag through every step to 100%", async () => {
    const started = await fx.call("POST", "/v1/flags/harmless/guarded-rollout", {
      steps: [20, 50, 100],
      pause: "1s",
      minRequests: 200,
    });
    expect(started.status).toBe(202);
    const end = await waitForEnd("harmless", 60_000);
    expect(end.state, end.reason).toBe("succeeded");
    expect(await percentOf("harmless")).toBe(100);
    const steps = (await fx.plane.audit.list(300)).filter(
      (e) => e.action === "flag.rollout.step" && e.details?.flag === "harmless",
    );
    expect(steps.map((e) => e.details?.percent)).toEqual([20, 50, 100]);
  }, 90_000);

  it("refuses what cannot be rolled out, naming why, and changes nothing", async () => {
    const bad = async (name: string, body: unknown, status: number, pattern: RegExp) => {
      const res = await fx.call("POST", `/v1/flags/${name}/guarded-rollout`, body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error.message).toMatch(pattern);
    };
    await bad("quiet", { steps: [50, 20] }, 400, /steps\[1\]: 20 is not above/);
    await bad("quiet", { steps: [0] }, 400, /steps\[0\]/);
    await bad("quiet", { steps: [150] }, 400, /steps\[0\]: 150/);
    await bad("quiet", { steps: [] }, 400, /steps/);
    await bad("quiet", { steps: [10], pause: "soon" }, 400, /pause/);
    await bad("quiet", { steps: [10], pause: "30d" }, 400, /pause: "30d" is not a duration of at most 7d/);
    await bad("nope", { steps: [10] }, 404, /no flag nope/);
    await fx.call("POST", "/v1/flags/quiet/disable", {});
    await bad("quiet", { steps: [10] }, 409, /quiet is off/);
    await fx.call("POST", "/v1/flags/quiet/enable", {});
    expect(await percentOf("quiet")).toBe(0);

    // One at a time per flag; abort puts it back and says so.
    expect(
      (await fx.call("POST", "/v1/flags/quiet/guarded-rollout", { steps: [10, 30], pause: "1h" })).status,
    ).toBe(202);
    await bad("quiet", { steps: [10] }, 409, /already running/);
    expect(await percentOf("quiet")).toBe(10);
    const aborted = await fx.call("POST", "/v1/flags/quiet/guarded-rollout/abort", { actor: "bob" });
    expect(aborted.body).toMatchObject({ state: "aborted", percent: 0 });
    expect(aborted.body.reason).toBe("aborted by bob at 10%; back to 0%");
    expect(await percentOf("quiet")).toBe(0);
    await bad("quiet", {}, 400, /steps/);
    const again = await fx.call("POST", "/v1/flags/quiet/guarded-rollout/abort", {});
    expect(again.status).toBe(409);
  }, 30_000);

  it("stands aside when someone sets the flag by hand during the rollout", async () => {
    await fx.call("POST", "/v1/flags/quiet/guarded-rollout", { steps: [10, 30], pause: "1h" });
    await fx.call("POST", "/v1/flags/quiet/rollout", { percent: 3, actor: "carol" });
    const end = await waitForEnd("quiet", 10_000);
    expect(end).toMatchObject({ state: "aborted", percent: 3 });
    expect(end.reason).toMatch(/set to 3% by carol during the rollout; left as it is/);
    expect(await percentOf("quiet")).toBe(3);
  }, 30_000);

  it("pauses a step nobody's requests reach after maxInconclusive, says why, and goes on when promoted", async () => {
    await fx.call("PUT", "/v1/flags/lonely", flag("lonely", 0));
    await fx.call("POST", "/v1/flags/lonely/guarded-rollout", { steps: [10, 20], maxInconclusive: "1s" });
    const deadline = Date.now() + 10_000;
    let r = (await fx.call("GET", "/v1/flags/lonely/guarded-rollout")).body[0];
    while (r.state === "running" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = (await fx.call("GET", "/v1/flags/lonely/guarded-rollout")).body[0];
    }
    expect(r.state).toBe("paused");
    expect(r.reason).toMatch(
      /^inconclusive for [\d.]+s at 10%.*waiting for a human \(baton flags rollout lonely --promote or --abort\)$/,
    );
    const promoted = await fx.call("POST", "/v1/flags/lonely/guarded-rollout/promote", { actor: "erin" });
    expect(promoted.body).toMatchObject({ state: "running", percent: 20 });
    expect(await percentOf("lonely")).toBe(20);
    await fx.call("POST", "/v1/flags/lonely/guarded-rollout/abort", {});
  }, 30_000);

  it("takes outcome reports on a client token only, refuses bad ones by field, and holds only what it can judge", async () => {
    const post = (body: unknown, auth: string | null = token) =>
      fx.call("POST", "/api/client/outcomes", body, {}, auth);
    const side = { requests: 10, errors: 1, latency: [[12.3456, 10]] };
    expect((await post({ appName: "a", flags: { quiet: { on: side } } }, null)).status).toBe(401);
    expect(
      (await post({ appName: "a", flags: { quiet: { on: side } } }, "Bearer admin-token-0123456789abcdef"))
        .status,
    ).toBe(401);
    const bad = await post({ appName: "a", flags: { quiet: { on: { ...side, requests: -1 } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toMatch(/flags\.quiet\.on\.requests/);
    expect((await post({ appName: "a", flags: { quiet: { on: { ...side, extra: 1 } } } })).status).toBe(400);

    const before = fx.flags.outcomes.mark("quiet").on;
    const unknown = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`ghost-${i}`, { on: side }]));
    const odd = {
      requests: 5,
      errors: 9,
      latency: Array.from({ length: 1000 }, (_, i) => [1 + i / 1000, 1]),
    };
    expect((await post({ appName: "a", flags: { ...unknown, quiet: { on: odd } } })).status).toBe(202);
    expect(fx.flags.outcomes.mark("ghost-1").on.requests).toBe(0);
    const after = fx.flags.outcomes.mark("quiet").on;
    expect(after.requests - before.requests).toBe(5);
    expect(after.errors - before.errors).toBe(5); // never more errors than requests
    expect(after.latencyBuckets.length).toBeLessThanOrEqual(before.latencyBuckets.length + 11); // 1.0 .. 2.0 ms
  });

  it("after a crash, brings the flag to what the rollout's row says (never back to a failed step)", async () => {
    // Runs last: it stops the fixture's rollouts, as a SIGKILL of the control plane would.
    for (const name of ["crash-fail", "crash-step"]) {
      await fx.call("PUT", `/v1/flags/${name}`, flag(name, 0));
      await fx.call("POST", `/v1/flags/${name}/guarded-rollout`, { steps: [10, 40], pause: "1h" });
      expect(await percentOf(name)).toBe(10);
    }
    await fx.rollouts!.stop();
    // Killed right after deciding, before the flag was written: a failure, and a step up.
    await fx.env.db.query(
      "UPDATE baton_flag_rollouts SET state = 'rolled-back', reason = 'failed', flag_synced = false WHERE flag = 'crash-fail'",
    );
    await fx.env.db.query(
      "UPDATE baton_flag_rollouts SET step = 1, last_good = 10, flag_synced = false WHERE flag = 'crash-step'",
    );
    const restarted = new GuardedRollouts({
      db: fx.env.db,
      flags: fx.flags,
      service: "flagged",
      lookMs: 100,
    });
    await restarted.init();
    restarted.start();
    try {
      const deadline = Date.now() + 5_000;
      while (
        Date.now() < deadline &&
        ((await percentOf("crash-fail")) !== 0 || (await percentOf("crash-step")) !== 40)
      )
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await percentOf("crash-fail")).toBe(0);
      expect(await percentOf("crash-step")).toBe(40);
      // The resumed step is judged again from a fresh window, and can still be aborted.
      const [running] = await restarted.list("crash-step");
      expect(running).toMatchObject({ state: "running", step: 1, percent: 40, flagSynced: true });
      expect((await restarted.abort("crash-step", "dave")).percent).toBe(10);
      expect(await percentOf("crash-step")).toBe(10);
    } finally {
      await restarted.stop();
    }
  }, 30_000);
});
