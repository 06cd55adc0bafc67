import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLoad } from "../../../router/src/test-support/load.js";
import { ProcessState } from "../providers/instance-process-state.js";
import type { LocalInstance } from "../providers/local-instance.js";
import { parseServiceFile } from "../service-file.js";
import { type ReleaseFixture, releaseFixture, runRelease } from "../test-support/release-fixture.js";
import type { ReleaseContext } from "./release-steps.js";
import { retirePrevious } from "./retire-previous.js";
import { runRollingRelease } from "./rolling-release.js";

// A service using @baton/runtime (built: `npx tsc -b packages/runtime`), behind Baton's router.
const SERVICE = fileURLToPath(new URL("../test-support/runtime-service.mjs", import.meta.url));
const file = parseServiceFile(`
service: runtime-svc
listen: 8080
instances: 2
run: ${process.execPath} ${SERVICE}
health: { readiness: /readyz, startTimeout: 5s }
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: 300ms, judgeFor: 0s }
drain: { timeout: 2s }
keepPreviousFor: 0s
`);

let fx: ReleaseFixture;
let ctx: ReleaseContext;
beforeAll(async () => {
  fx = await releaseFixture("runtime_shutdown", file, 2);
  ctx = fx.context();
});
afterAll(async () => {
  await fx?.close();
});

/** POSTs of ~200 ms through the router: a POST with a body is never replayed by the router. */
function postLoad() {
  return startLoad({
    url: `${fx.routerUrl}/work`,
    rate: 120,
    concurrency: 32,
    method: "POST",
    body: (n) => JSON.stringify({ n }),
    headers: () => ({ "content-type": "application/json" }),
  });
}

/** WebSocket clients through the router; resolves with their close codes once all have closed. */
async function sockets(n: number): Promise<{ closed: Promise<number[]> }> {
  const all = Array.from({ length: n }, () => new WebSocket(`${fx.routerUrl.replace("http", "ws")}/ws`));
  const closed = Promise.all(all.map((ws) => new Promise<number>((r) => ws.once("close", r))));
  await Promise.all(all.map((ws) => new Promise((r, j) => ws.once("open", r).once("error", j))));
  return { closed };
}

describe("a service using gracefulShutdown behind Baton's router", () => {
  it("loses no request in a rolling release from v1 to v2, nor when each instance is sent SIGTERM while still routed", async () => {
    const load = postLoad();
    const out = await runRelease(ctx, runRollingRelease, { version: "v2", cwd: fx.dir });
    fx.everything.push(...out.serving.instances);
    if (out.previous) await (await retirePrevious(ctx, out.serving, out.previous)).stopped;
    expect(out.release.status, out.release.reason ?? "").toBe("succeeded");
    const rolled = { ...load.result, failures: { ...load.result.failures } };
    expect(rolled.failed, JSON.stringify(rolled.failures)).toBe(0);
    expect(rolled.byVersion.v2).toBeGreaterThan(0);

    // Kubernetes-style: SIGTERM with nothing drained first. The router learns of it only from
    // readiness (503 at once, probed every 500 ms); the preStop delay covers that, then the drain.
    const ws = await sockets(6);
    for (const instance of out.serving.instances as LocalInstance[]) {
      const restarts = instance.restarts;
      process.kill(instance.record.pid!, "SIGTERM");
      // The provider restarts it on its port; the router takes it back once it is ready again.
      for (
        let i = 0;
        i < 200 && !(instance.restarts > restarts && instance.state === ProcessState.Ready);
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      expect(instance.exits.at(-1)).toBe("exit code 0");
      expect(instance.state).toBe(ProcessState.Ready);
    }
    const r = await load.stop();
    // Each instance went on serving routed requests after SIGTERM (preStop), and exited 0.
    const served: number[] = [];
    for (const instance of out.serving.instances as LocalInstance[]) {
      const log = (await readFile(instance.spec.logFile, "utf8"))
        .split("\n")
        .filter((l) => l.startsWith("{"));
      const done = log.map((l) => JSON.parse(l)).filter((l) => String(l.msg).startsWith("shutdown done"));
      expect(done).toMatchObject([{ exitCode: 0 }]);
      served.push(done[0].requestsSinceSignal);
    }
    expect(Math.min(...served)).toBeGreaterThan(0);
    expect(r.failed, JSON.stringify(r.failures)).toBe(0);
    expect(r.sent).toBeGreaterThan(300);
    console.info(
      `rolling release and SIGTERM restarts behind the router: ${r.sent} requests in ${r.seconds} s, ${r.failed} failed (${rolled.sent} during the release); served after SIGTERM: ${served.join(", ")}`,
    );
    // Every session was on an instance that went away: each ended with 1001 (Going Away) sent by
    // the service's own shutdown and relayed by the router, none was cut (1006).
    expect(await ws.closed).toEqual(Array(6).fill(1001));
  }, 60_000);
});
